//! The [`Exchange`] of processes started by `mpirun` or Slurm's `srun`, through MPI (the `mpi`
//! crate, rsmpi, on Open MPI or MPICH).

use mpi::collective::CommunicatorCollectives;
use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::point_to_point::send_receive_into;
use mpi::topology::{Communicator, SimpleCommunicator};

use super::Exchange;

/// MPI's world communicator, with the library kept initialized for as long as it lives.
pub struct Mpi {
    world: SimpleCommunicator,
    /// Finalizes MPI when dropped: kept, never read.
    _universe: Universe,
}

impl Mpi {
    /// Initializes MPI: `None` when it was initialized already. A process not started by
    /// `mpirun` (or `srun`) is a world of one process.
    pub fn initialize() -> Option<Mpi> {
        let universe = mpi::initialize()?;
        Some(Mpi { world: universe.world(), _universe: universe })
    }
}

impl Exchange for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn swap(&self, partner: usize, mine: &[f64], theirs: &mut [f64]) {
        let partner = self.world.process_at_rank(partner as i32);
        send_receive_into(mine, &partner, theirs, &partner);
    }

    fn gather(&self, mine: &[f64]) -> Vec<Vec<f64>> {
        let size = self.size();
        let mut counts = vec![0i32; size];
        self.world.all_gather_into(&(mine.len() as i32), &mut counts[..]);
        let offsets: Vec<i32> = counts
            .iter()
            .scan(0, |offset, &count| {
                let start = *offset;
                *offset += count;
                Some(start)
            })
            .collect();
        let mut all = vec![0.0; counts.iter().map(|&c| c as usize).sum()];
        let mut partitioned = PartitionMut::new(&mut all[..], &counts[..], &offsets[..]);
        self.world.all_gather_varcount_into(mine, &mut partitioned);
        counts
            .iter()
            .zip(&offsets)
            .map(|(&count, &offset)| all[offset as usize..(offset + count) as usize].to_vec())
            .collect()
    }

    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}
