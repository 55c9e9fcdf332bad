using System.Diagnostics;
using System.Globalization;
using Paxos.Simulation;

// The soak runner: `--seeds N --start-seed S` runs seeds S..S+N-1 on every core and exits non-zero if
// any breaks a property; `--seed S` replays one seed verbosely.
return SimulationCommand.Run(args, Console.Out);

internal static class SimulationCommand
{
    public static int Run(string[] args, TextWriter output)
    {
        ulong? single = null;
        ulong start = 1;
        long count = 100;
        var longRun = false;
        var quiet = false;
        var profile = SimulationProfile.Default;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seed" when i + 1 < args.Length:
                    single = ulong.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--seeds" when i + 1 < args.Length:
                    count = long.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--start-seed" when i + 1 < args.Length:
                    start = ulong.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--long":
                    longRun = true;
                    break;
                case "--quiet":
                    quiet = true;
                    break;
                case "--profile" when i + 1 < args.Length:
                    switch (args[++i])
                    {
                        case "default":
                            profile = SimulationProfile.Default;
                            break;
                        case "lost-disk":
                            profile = SimulationProfile.LostDisk;
                            break;
                        case "read-leases":
                            profile = SimulationProfile.ReadLeases;
                            break;
                        default:
                            output.WriteLine($"unknown profile '{args[i]}'; see --help");
                            return 2;
                    }

                    break;
                case "--help" or "-h":
                    output.WriteLine("""
                        Paxos.Simulation: runs real Paxos.Core replicas under seeded faults and checks safety and liveness.

                          --seeds N         run N seeds (default 100)
                          --start-seed S    first seed (default 1)
                          --seed S          replay one seed, printing every event
                          --long            fewer, longer seeds (a minute of virtual time each)
                          --quiet           no progress line
                          --profile P       default, or lost-disk: lost disks aimed at promises and elections,
                                            a preparing leader held on a partial set, two lost disks among five,
                                            long delay tails, small windows with the leader's explicit Accept
                                            or read-leases: the default faults with read leases on, the drift
                                            bound set to the seed's real tick skew, clock-following hosts

                        Exit code 0 when every seed passed, 1 when any failed.
                        """);
                    return 0;
                default:
                    output.WriteLine($"unknown argument '{args[i]}'; see --help");
                    return 2;
            }
        }

        if (single is { } seed)
        {
            var config = SimulationConfig.FromSeed(seed, longRun, profile);
            output.WriteLine(config);
            var result = new Simulator(config, output).Run();
            output.WriteLine(result.Passed
                ? $"seed {seed} passed: {result.Events} events, {result.Acknowledged} updates acknowledged, slot {result.HighestSlot}, stability stretch {result.Stability}, trace {result.TraceHash:x16}{(profile == SimulationProfile.LostDisk ? $"; {result.LostDisk}" : string.Empty)}{(result.Snapshots.Taken > 0 ? $"; {result.Snapshots}" : string.Empty)}"
                : result.Failure);
            return result.Passed ? 0 : 1;
        }

        return Soak(start, count, longRun, profile, quiet, output);
    }

    private static int Soak(ulong start, long count, bool longRun, SimulationProfile profile, bool quiet, TextWriter output)
    {
        var stopwatch = Stopwatch.StartNew();
        long done = 0, events = 0, failed = 0, aimedWipes = 0, holds = 0, twoAtOnce = 0, nearMisses = 0, earlyRebuilds = 0, crashesAfterAck = 0, readsChecked = 0, leaseReads = 0;
        var stretches = new long[Enum.GetValues<StabilityStretch>().Length];
        var probes = CoverageProbes.None;
        var snapshots = default(SnapshotCounts);
        var sessions = default(SessionCounts);
        var failures = new System.Collections.Concurrent.ConcurrentBag<SimulationResult>();
        var nearMissSeeds = new List<ulong>();
        var earlyRebuildSeeds = new List<ulong>();
        var next = -1L;
        var workers = new Thread[Environment.ProcessorCount];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = new Thread(() =>
            {
                while (true)
                {
                    var index = Interlocked.Increment(ref next);
                    if (index >= count)
                    {
                        return;
                    }

                    var result = Simulator.Run(start + (ulong)index, profile, log: null, longRun);
                    Interlocked.Add(ref events, result.Events);
                    Interlocked.Increment(ref done);
                    if (!result.Passed)
                    {
                        Interlocked.Increment(ref failed);
                        failures.Add(result);
                        lock (output)
                        {
                            output.WriteLine();
                            output.WriteLine(result.Failure);
                        }
                    }

                    lock (workers)
                    {
                        probes |= result.Probes;
                        readsChecked += result.ReadsChecked;
                        leaseReads += result.ReadsUnderLease;
                        snapshots = Add(snapshots, result.Snapshots);
                        sessions += result.Sessions;
                        stretches[(int)result.Stability]++;
                        crashesAfterAck += result.CrashesAfterAcknowledgement;
                        aimedWipes += result.LostDisk.AfterPrepareOk + result.LostDisk.InElection;
                        holds += result.LostDisk.Holds;
                        twoAtOnce += result.LostDisk.MostWithoutIntactState >= 2 ? 1 : 0;
                        if (result.LostDisk.RebuildsDoneBelowEarlierSlots > 0)
                        {
                            earlyRebuilds++;
                            earlyRebuildSeeds.Add(result.Seed);
                        }

                        if (result.LostDisk.JoinsBelowForgottenPromise > 0)
                        {
                            nearMisses++;
                            nearMissSeeds.Add(result.Seed);
                        }
                    }
                }
            });
            workers[w].Start();
        }

        while (!workers.All(static w => w.Join(1000)))
        {
            if (!quiet)
            {
                lock (output)
                {
                    output.Write($"\r{Interlocked.Read(ref done)}/{count} seeds, {Interlocked.Read(ref failed)} failed, {Interlocked.Read(ref events) / Math.Max(1, stopwatch.Elapsed.TotalSeconds):N0} events/s   ");
                }
            }
        }

        var seconds = stopwatch.Elapsed.TotalSeconds;
        if (!quiet)
        {
            output.WriteLine();
        }

        output.WriteLine($"{done} seeds from {start}: {done - failed} passed, {failed} failed; {events:N0} events in {seconds:F1} s ({events / seconds:N0} events/s, {done / seconds * 60:N0} seeds/min); probes missed: {(CoverageProbes.All & ~probes) switch { CoverageProbes.None => "none", var missed => missed.ToString() }}");
        output.WriteLine(snapshots);
        output.WriteLine($"linearizable reads served and checked: {readsChecked:N0}{(profile == SimulationProfile.ReadLeases ? $" ({leaseReads:N0} taken under a lease)" : string.Empty)}");
        output.WriteLine(sessions);
        output.WriteLine($"stability stretch: checked in {stretches[(int)StabilityStretch.Checked]} seeds, outside the timers' envelope in {stretches[(int)StabilityStretch.OutsideEnvelope]}, not settled in {stretches[(int)StabilityStretch.NotSettled]}; {crashesAfterAck} crashes right after an acknowledgement");
        if (profile == SimulationProfile.LostDisk)
        {
            output.WriteLine($"lost-disk profile: {aimedWipes} aimed lost disks, {holds} holds; {twoAtOnce} seeds with two or more replicas without intact state at once, {nearMisses} with a rebuilding replica joining a view below a promise it forgot{First(nearMissSeeds)}, {earlyRebuilds} with a rebuild done below a slot executed before the disk was lost{First(earlyRebuildSeeds)}");
        }

        foreach (var failure in failures.OrderBy(static f => f.Seed))
        {
            output.WriteLine($"failed seed {failure.Seed}: {Simulator.ReplayCommand(failure.Seed, profile)}");
        }

        return failed == 0 ? 0 : 1;
    }

    private static SnapshotCounts Add(SnapshotCounts a, SnapshotCounts b) => new(
        a.Taken + b.Taken, a.Acknowledged + b.Acknowledged, a.Installed + b.Installed, a.RestartsFromSnapshot + b.RestartsFromSnapshot,
        a.PrepareRejectsBelowFloor + b.PrepareRejectsBelowFloor, a.WriteCrashes + b.WriteCrashes, a.InstallCrashes + b.InstallCrashes, a.Damaged + b.Damaged);

    private static string First(List<ulong> seeds) => seeds.Count == 0 ? string.Empty : $" (first: {string.Join(' ', seeds.Order().Take(10))})";
}
