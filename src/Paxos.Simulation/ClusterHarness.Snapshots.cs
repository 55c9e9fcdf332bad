using Paxos.Hosting;
using Paxos.Messages;
using Paxos.Protocol;
using Paxos.Storage;

namespace Paxos.Simulation;

// Snapshots in the simulated cluster: crashes while one is made durable, damaged snapshot files, and what the coverage
// probes count.
public sealed partial class ClusterHarness
{
    /// <summary>The aru of the last Prepare each leader sent for each view, to tell why a Prepare was rejected.</summary>
    private readonly Dictionary<(int Leader, long View), long> _prepareAru = [];

    /// <summary>
    /// Consulted (never during a restart) when a replica's own snapshot is about to be made durable
    /// (<c>received</c> false) and when a snapshot received whole from a peer is (true): where, if anywhere, a crash
    /// takes the replica down. Null: never.
    /// </summary>
    public Func<ReplicaId, bool, SnapshotCrashPoint>? CrashDuringSnapshot { get; set; }

    /// <summary>The share of damaged disks (<see cref="CrashWithDamagedDisk"/>) that damage the newest snapshot file
    /// rather than a log record, when the replica keeps a snapshot (0.5 by default).</summary>
    public double SnapshotDamageShare { get; set; } = 0.5;

    /// <summary>What snapshots did so far.</summary>
    public SnapshotCounts SnapshotCounts => _snapshotCounts;

    private SnapshotCounts _snapshotCounts;

    /// <summary>Whether a replica is being constructed (a snapshot it restores then comes from its disk).</summary>
    private bool _constructing;

    private void NoteSnapshotTaken() => _snapshotCounts = _snapshotCounts with { Taken = _snapshotCounts.Taken + 1 };

    private void NoteSnapshotAcknowledged() => _snapshotCounts = _snapshotCounts with { Acknowledged = _snapshotCounts.Acknowledged + 1 };

    private void NoteRestored()
    {
        _snapshotCounts = _constructing
            ? _snapshotCounts with { RestartsFromSnapshot = _snapshotCounts.RestartsFromSnapshot + 1 }
            : _snapshotCounts with { Installed = _snapshotCounts.Installed + 1 };
    }

    /// <summary>Where a crash strikes a snapshot being made durable, if anywhere.</summary>
    private SnapshotCrashPoint SnapshotCrashDue(SimulatedReplica replica, bool received)
    {
        var crash = _restarting ? SnapshotCrashPoint.None : CrashDuringSnapshot?.Invoke(replica.Id, received) ?? SnapshotCrashPoint.None;
        if (crash != SnapshotCrashPoint.None)
        {
            _snapshotCounts = received
                ? _snapshotCounts with { InstallCrashes = _snapshotCounts.InstallCrashes + 1 }
                : _snapshotCounts with { WriteCrashes = _snapshotCounts.WriteCrashes + 1 };
        }

        return crash;
    }

    /// <summary>Damages the newest snapshot file of a storage that keeps one, for <see cref="SnapshotDamageShare"/> of
    /// the calls.</summary>
    private bool DamageSnapshot(SimulatedStorage storage, SimulationRandom random)
    {
        if (storage.KeptSnapshots.Count == 0 || !random.Chance(SnapshotDamageShare) || !storage.DamageNewestSnapshot(random))
        {
            return false;
        }

        _snapshotCounts = _snapshotCounts with { Damaged = _snapshotCounts.Damaged + 1 };
        return true;
    }

    /// <summary>
    /// A slow disk's snapshot writer, as <see cref="PaxosNode"/>'s runs on a thread of its own: a snapshot is written
    /// 0 to 2 × <see cref="SyncDelayTicks"/> ticks after its batch is durable, while the replica goes on (it may install a
    /// newer one from a peer meanwhile), and acknowledged at the driver's next <see cref="ReplicaDriver.AcknowledgeDurable"/>.
    /// A crash before then loses it; one may also strike the write itself (<see cref="CrashDuringSnapshot"/>).
    /// </summary>
    internal sealed class SimulatedSnapshotWriter(ClusterHarness harness, SimulatedReplica replica, ISnapshotStorage storage) : ISnapshotWriter
    {
        private readonly Queue<(TakenSnapshot Snapshot, long DueTick)> _writing = new();
        private readonly Queue<SequenceNumber> _written = new();

        public bool HasWritten => _written.Count > 0;

        public void Write(TakenSnapshot snapshot)
        {
            var delay = harness.SyncDelayTicks > 0 ? harness.SyncRandom!.Next(0, (2 * harness.SyncDelayTicks) + 1) : 0;
            _writing.Enqueue((snapshot, replica.Ticks + delay));
        }

        /// <summary>Writes the snapshots due by <paramref name="tick"/>, oldest first.</summary>
        public void CompleteDue(long tick)
        {
            while (_writing.TryPeek(out var next) && next.DueTick <= tick)
            {
                _writing.Dequeue();
                try
                {
                    storage.WriteSnapshot(next.Snapshot);
                }
                finally
                {
                    next.Snapshot.Executor.Dispose();
                }

                _written.Enqueue(next.Snapshot.State.Sequence);
            }
        }

        public bool TryTakeWritten(out SequenceNumber sequence) => _written.TryDequeue(out sequence);
    }

    /// <summary>Notes a message a replica sends: the aru of each Prepare, and whether a PrepareReject was for the floor.</summary>
    private void NoteSnapshotTraffic(ReplicaId sender, ReplicaId destination, PaxosMessage message)
    {
        switch (message)
        {
            case Prepare prepare:
                _prepareAru[(sender.Value, prepare.View.Value)] = prepare.LocalAru.Value;
                break;
            case PrepareReject reject when _replicas[sender.Value].Replica is { } paxos
                && _prepareAru.TryGetValue((destination.Value, reject.View.Value), out var aru)
                && aru < paxos.ReleasedThrough.Value
                && reject.LocalAru.Value - aru <= paxos.Options.WindowSlots:
                _snapshotCounts = _snapshotCounts with { PrepareRejectsBelowFloor = _snapshotCounts.PrepareRejectsBelowFloor + 1 };
                break;
            default:
                break;
        }
    }
}

/// <summary>What snapshots did in a simulated run.</summary>
/// <param name="Taken">Snapshots replicas took.</param>
/// <param name="Acknowledged">Snapshots made durable and acknowledged to their replica.</param>
/// <param name="Installed">Snapshots installed from a peer (state transfer).</param>
/// <param name="RestartsFromSnapshot">Restarts that restored a snapshot from the disk.</param>
/// <param name="PrepareRejectsBelowFloor">Prepares rejected because the leader's aru was below what the rejecting replica
/// released (and within its window).</param>
/// <param name="WriteCrashes">Crashes while a replica's own snapshot was made durable.</param>
/// <param name="InstallCrashes">Crashes while a snapshot received from a peer was made durable and installed.</param>
/// <param name="Damaged">Snapshot files damaged.</param>
public readonly record struct SnapshotCounts(int Taken, int Acknowledged, int Installed, int RestartsFromSnapshot, int PrepareRejectsBelowFloor, int WriteCrashes, int InstallCrashes, int Damaged)
{
    /// <inheritdoc />
    public override string ToString() => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"snapshots taken {Taken}, acknowledged {Acknowledged}, installed from a peer {Installed}, restarts from one {RestartsFromSnapshot}; Prepares rejected below the floor {PrepareRejectsBelowFloor}; crashes in a snapshot write {WriteCrashes}, in an install {InstallCrashes}; damaged snapshots {Damaged}");
}
