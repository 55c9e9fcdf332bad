using System.Collections.Concurrent;

namespace Paxos.Simulation.Tests.Simulation;

/// <summary>
/// Read leases under the simulator (docs/protocol-notes.md, "Read leases"): the default faults with leases on, the drift
/// bound set to each seed's real tick skew, and hosts that tick by the clock. Every served read is checked against the
/// acknowledged history, as in the default profile.
/// </summary>
public class ReadLeaseSimulationTests
{
    /// <summary>Seeds in the CI batch: about fifteen seconds on two cores.</summary>
    private const int BatchSeeds = 1000;

    private const ulong BatchStart = 3_000_000;

    [Test]
    public void A_batch_of_lease_seeds_serves_only_linearizable_reads()
    {
        var failures = new ConcurrentBag<SimulationResult>();
        long checkedReads = 0, leaseReads = 0;
        Parallel.For(0, BatchSeeds, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            var result = Simulator.Run(BatchStart + (ulong)i, SimulationProfile.ReadLeases);
            if (!result.Passed)
            {
                failures.Add(result);
            }

            Interlocked.Add(ref checkedReads, result.ReadsChecked);
            Interlocked.Add(ref leaseReads, result.ReadsUnderLease);
        });

        failures.OrderBy(f => f.Seed).Take(3).Select(f => f.Failure).Should().BeEmpty();
        leaseReads.Should().BeGreaterThan(checkedReads / 2, "most reads at a working leader are taken under its lease");
    }

    [Test]
    public void The_drift_bound_is_what_the_tick_periods_really_are()
    {
        SimulationConfig.DriftOf([1000, 1000, 1000]).Should().Be(0);
        SimulationConfig.DriftOf([500, 2000, 1000]).Should().Be(0.6, "2000 and 500 are 1250 ± 60 %");
        var config = SimulationConfig.FromSeed(7, longRun: false, SimulationProfile.ReadLeases);
        config.Options.ReadLeases.Should().BeTrue();
        config.Options.MaxClockDrift.Should().Be(SimulationConfig.DriftOf(config.TickPeriodMicros));
    }

    /// <summary>The first seeds of the profile that found each bug planted in leases (docs/testing.md, "Planted bugs"):
    /// on the real code each passes and takes reads under a lease.</summary>
    [TestCase(327UL, TestName = "Lease seed 327: a lease is shortened by the drift bound (caught when the promise was taken whole)")]
    [TestCase(255UL, TestName = "Lease seed 255: a restarted replica holds its vote (caught without the hold)")]
    [TestCase(66UL, TestName = "Lease seed 66: a paused host gets the ticks it missed before it serves (caught when they were lost)")]
    public void Lease_seed(ulong seed)
    {
        var result = Simulator.Run(seed, SimulationProfile.ReadLeases);
        result.Failure.Should().BeNull();
        result.ReadsUnderLease.Should().BePositive();
    }
}
