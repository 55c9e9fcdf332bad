using System.Buffers.Binary;
using Paxos.Tests.Storage;
using Paxos.Transport;

namespace Paxos.Tests.Hosting;

/// <summary>Snapshots end to end through <see cref="PaxosNode"/> with the file log: taken, written on their own thread,
/// the history released behind them, a restart from the newest one, and a wiped replica brought back by state transfer
/// while the others keep ordering.</summary>
public class NodeSnapshotTests : TempDirectoryFixture
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>Node starts so far: each gets its own seed (a rebuilding replica draws its query's nonce from it).</summary>
    private static long _starts;

    [Test]
    public async Task A_wiped_replica_rejoins_through_a_snapshot_while_the_others_go_on_ordering()
    {
        var network = new InProcessNetwork(3);
        var nodes = new PaxosNode?[3];
        var executors = new SummingExecutor[3];
        try
        {
            for (var i = 0; i < 3; i++)
            {
                (nodes[i], executors[i]) = await StartAsync(network, i, rebuild: false);
            }

            var timestamp = await SubmitManyAsync(nodes, 0, 1, 200);
            // A replica that falls behind may release by installing a peer's snapshot before it writes one of its own, so
            // both are waited for.
            await WaitAsync(
                () => nodes.All(n => n!.GetCounters().SlotsReleased > 0 && n.StorageCounters!.SnapshotsWritten > 0),
                "every replica to write a snapshot and release history behind one");

            // Replica 2 loses its disk; the others go on and release what it would need to catch up from their logs.
            await nodes[2]!.DisposeAsync();
            nodes[2] = null;
            Directory.Delete(Temp.Sub("r2"), recursive: true);
            timestamp = await SubmitManyAsync(nodes, 0, timestamp + 1, 200);
            var released = nodes[0]!.GetCounters().SlotsReleased;
            released.Should().BeGreaterThan(200, "the survivors released slots the wiped replica never had");

            (nodes[2], executors[2]) = await StartAsync(network, 2, rebuild: true);
            var target = nodes[0]!.Status.LocalAru;
            await WaitAsync(() => nodes[2]!.Status.LocalAru >= target && !nodes[2]!.Status.IsRebuilding, "the wiped replica to catch up");

            nodes[2]!.GetCounters().SnapshotsInstalled.Should().BeGreaterThan(0, "the slots it lacked are released everywhere: only a snapshot brings it past them");
            executors[2].Restores.Should().BeGreaterThan(0);

            // It orders what follows, and its state is the others' at the same slot.
            await SubmitManyAsync(nodes, 2, timestamp + 1, 30);
            await WaitAsync(() => nodes.Select(n => n!.Status.LocalAru).Distinct().Count() == 1, "the replicas to agree on Local_Aru");
            await WaitAsync(() => executors.Select(e => e.State).Distinct().Count() == 1, "the executors to agree");
        }
        finally
        {
            await StopAllAsync(nodes);
        }
    }

    [Test]
    public async Task A_restart_restores_the_newest_snapshot_and_replays_only_the_log_after_it()
    {
        var network = new InProcessNetwork(3);
        var nodes = new PaxosNode?[3];
        var executors = new SummingExecutor[3];
        try
        {
            for (var i = 0; i < 3; i++)
            {
                (nodes[i], executors[i]) = await StartAsync(network, i, rebuild: false);
            }

            await SubmitManyAsync(nodes, 0, 1, 150);
            await WaitAsync(() => nodes[1]!.StorageCounters!.SnapshotsWritten >= 2, "two snapshots on replica 1");
            var before = executors[1].State;
            var aru = nodes[1]!.Status.LocalAru;

            await nodes[1]!.DisposeAsync();
            (nodes[1], executors[1]) = await StartAsync(network, 1, rebuild: false);

            executors[1].Restores.Should().Be(1, "the newest snapshot is restored");
            executors[1].Executed.Should().BeLessThan(aru.Value, "only the log after the snapshot is replayed");
            await WaitAsync(() => nodes[1]!.Status.LocalAru >= aru, "the restarted replica to reach where it was");
            nodes[1]!.Status.LocalAru.Should().Be(aru);
            executors[1].State.Should().Be(before);
        }
        finally
        {
            await StopAllAsync(nodes);
        }
    }

    [Test]
    public async Task In_memory_storage_keeps_only_what_the_newest_snapshot_does_not_cover()
    {
        var network = new InProcessNetwork(3);
        var storage = new Paxos.Storage.InMemoryReplicaStorage[3];
        var nodes = new PaxosNode?[3];
        var executors = new SummingExecutor[3];
        try
        {
            for (var i = 0; i < 3; i++)
            {
                storage[i] = new Paxos.Storage.InMemoryReplicaStorage();
                (nodes[i], executors[i]) = await StartAsync(network, i, rebuild: false, storage[i]);
            }

            await SubmitManyAsync(nodes, 0, 1, 300);
            await WaitAsync(() => nodes.All(n => n!.GetCounters().SnapshotsTaken >= 10), "ten snapshots everywhere");

            var kept = await storage[1].LoadAsync();
            kept.Snapshot.Should().NotBeNull();
            var covered = kept.Snapshot!.State.Sequence;
            kept.OrderedSlots.Where(slot => slot.Sequence <= covered).Should().BeEmpty("the slots the newest snapshot covers are released");
            kept.AcceptedProposals.Where(proposal => proposal.LastSequence <= covered).Should().BeEmpty();
            kept.OrderedSlots.Count.Should().BeLessThan(100);

            // A replica restarted from that storage comes back to where it was.
            var aru = nodes[1]!.Status.LocalAru;
            var state = executors[1].State;
            await nodes[1]!.DisposeAsync();
            (nodes[1], executors[1]) = await StartAsync(network, 1, rebuild: false, storage[1]);
            await WaitAsync(() => nodes[1]!.Status.LocalAru >= aru, "the restarted replica to reach where it was");
            executors[1].State.Should().Be(state);
        }
        finally
        {
            await StopAllAsync(nodes);
        }
    }

    private async Task<(PaxosNode, SummingExecutor)> StartAsync(InProcessNetwork network, int id, bool rebuild, Paxos.Storage.IReplicaStorage? storage = null)
    {
        var options = new PaxosOptions
        {
            ReplicaId = id,
            ClusterSize = 3,
            DataDirectory = Temp.Sub($"r{id}"),
            TickInterval = TimeSpan.FromMilliseconds(2),
            ProgressTimeoutTicks = 50,
            MaxProgressTimeoutTicks = 400,
            LeaderHeartbeatTicks = 10,
            SnapshotIntervalSlots = 20,
            RetainedSlots = 5,
            RebuildFromPeers = rebuild,
        };
        var executor = new SummingExecutor();
        var node = new PaxosNode(storage is null ? options : WithoutDirectory(options), executor, network.CreateTransport(new ReplicaId(id)), storage, seed: (ulong)Interlocked.Increment(ref _starts));
        await node.StartAsync();
        return (node, executor);
    }

    private static async Task StopAllAsync(PaxosNode?[] nodes)
    {
        foreach (var node in nodes)
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }
        }
    }

    private static PaxosOptions WithoutDirectory(PaxosOptions options)
    {
        options.DataDirectory = null;
        return options;
    }

    /// <summary>Submits <paramref name="count"/> updates of client 1 from <paramref name="first"/> on, one after the other,
    /// at <paramref name="at"/> (a non-leader forwards them); returns the last timestamp.</summary>
    private static async Task<long> SubmitManyAsync(PaxosNode?[] nodes, int at, long first, int count)
    {
        var node = nodes[at]!;
        var timestamp = first;
        for (var i = 0; i < count; i++, timestamp++)
        {
            using var timeout = new CancellationTokenSource(Patience);
            await node.SubmitAsync(new ClientUpdate(new ClientId(1), timestamp, BitConverter.GetBytes(timestamp)), timeout.Token);
        }

        return timestamp - 1;
    }

    private static Task WaitAsync(Func<bool> condition, string what) => Paxos.Testing.Eventually.UntilAsync(condition, what, Patience);

    /// <summary>A small state machine with snapshots: how many updates it holds and a digest of them, in order.</summary>
    private sealed class SummingExecutor : ISnapshotExecutor
    {
        private readonly Lock _gate = new();
        private long _count;
        private ulong _digest;
        private long _executed;
        private int _restores;

        /// <summary>The state, comparable across replicas.</summary>
        public (long Count, ulong Digest) State
        {
            get
            {
                lock (_gate)
                {
                    return (_count, _digest);
                }
            }
        }

        /// <summary>Updates this executor ran itself (not restored).</summary>
        public long Executed => Interlocked.Read(ref _executed);

        public int Restores => Volatile.Read(ref _restores);

        public ReadOnlyMemory<byte> Execute(in OrderedUpdate update)
        {
            lock (_gate)
            {
                _count++;
                _digest = (_digest * 0x100000001B3UL) ^ (ulong)update.Timestamp ^ ((ulong)update.Sequence.Value << 32);
            }

            Interlocked.Increment(ref _executed);
            return BitConverter.GetBytes(update.Sequence.Value);
        }

        public IExecutorSnapshot CaptureSnapshot() => new Capture(State);

        public void RestoreSnapshot(Stream snapshot)
        {
            Span<byte> bytes = stackalloc byte[16];
            snapshot.ReadExactly(bytes);
            snapshot.ReadByte().Should().Be(-1, "the snapshot holds exactly what was written");
            lock (_gate)
            {
                _count = BinaryPrimitives.ReadInt64LittleEndian(bytes);
                _digest = BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]);
            }

            Interlocked.Increment(ref _restores);
        }

        private sealed class Capture((long Count, ulong Digest) state) : IExecutorSnapshot
        {
            public void WriteTo(Stream destination)
            {
                Span<byte> bytes = stackalloc byte[16];
                BinaryPrimitives.WriteInt64LittleEndian(bytes, state.Count);
                BinaryPrimitives.WriteUInt64LittleEndian(bytes[8..], state.Digest);
                destination.Write(bytes);
            }

            public void Dispose()
            {
            }
        }
    }
}
