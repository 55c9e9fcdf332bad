using System.Globalization;

namespace Paxos.Simulation;

// Snapshots in a simulated run: crashes while one is made durable, and the probes they reach.
public sealed partial class Simulator
{
    /// <summary>Crashes while snapshots are made durable, when the seed draws them.</summary>
    private void ConfigureSnapshotFaults()
    {
        if (_config.Faults.SnapshotCrashRate > 0)
        {
            _harness.CrashRandom ??= _random;
            _harness.LoseUnsyncedWritesOnCrash = _config.Faults.LoseUnsyncedWrites;
            _harness.CrashDuringSnapshot = OnCrashDuringSnapshot;
        }
    }

    /// <summary>Decides whether replica <paramref name="id"/> dies while a snapshot is made durable, and where; if so,
    /// schedules its restart (the harness crashes it).</summary>
    private SnapshotCrashPoint OnCrashDuringSnapshot(ReplicaId id, bool received)
    {
        if (_liveness || !_random.Chance(_config.Faults.SnapshotCrashRate))
        {
            return SnapshotCrashPoint.None;
        }

        if (_harness.Replicas[id.Value].Replica is { } paxos)
        {
            CollectProbes(paxos);
        }

        var point = _random.Chance(0.5) ? SnapshotCrashPoint.BeforeDurable : SnapshotCrashPoint.AfterDurable;
        _trace = (_trace ^ (0x5AA5UL + (ulong)id.Value + ((ulong)point << 8))) * 0x100000001B3UL;
        _log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_now,12} crash {id} while {(received ? "a received" : "its")} snapshot is made durable ({point})"));
        ScheduleRestart(id);
        return point;
    }

    private CoverageProbes SnapshotProbes()
    {
        var counts = _harness.SnapshotCounts;
        var probes = CoverageProbes.None;
        probes |= counts.Taken > 0 ? CoverageProbes.SnapshotTaken : CoverageProbes.None;
        probes |= counts.Acknowledged > 0 ? CoverageProbes.SnapshotAcknowledged : CoverageProbes.None;
        probes |= counts.Installed > 0 ? CoverageProbes.SnapshotInstalled : CoverageProbes.None;
        probes |= counts.PrepareRejectsBelowFloor > 0 ? CoverageProbes.PrepareRejectedBelowFloor : CoverageProbes.None;
        probes |= counts.RestartsFromSnapshot > 0 ? CoverageProbes.RestartFromSnapshot : CoverageProbes.None;
        return probes;
    }
}
