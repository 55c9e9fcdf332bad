using Paxos.Protocol;
using Paxos.Storage;

namespace Paxos.Simulation.Tests.Simulation;

/// <summary>The simulated disk's snapshots behave as the file storage's do, and the checker holds a restored state to the
/// agreed history (docs/testing.md, section 3).</summary>
public class SimulatedSnapshotTests
{
    [Test]
    public void The_two_newest_snapshots_are_kept_and_a_load_restores_the_newest()
    {
        var storage = Loaded();
        foreach (var sequence in new long[] { 3, 6, 9 })
        {
            storage.WriteSnapshot(Taken(sequence, batch: sequence));
        }

        storage.KeptSnapshots.Select(s => s.Value).Should().Equal(6, 9);
        storage.Load().Snapshot!.State.Sequence.Should().Be(new SequenceNumber(9));
    }

    [Test]
    public void A_damaged_newest_snapshot_is_set_aside_and_the_older_one_restored()
    {
        var storage = Loaded();
        storage.WriteSnapshot(Taken(3, batch: 2));
        storage.WriteSnapshot(Taken(6, batch: 4));

        storage.DamageNewestSnapshot(new SimulationRandom(1)).Should().BeTrue();

        storage.IsDamaged.Should().BeFalse("the older snapshot and the log after it still hold everything");
        storage.Load().Snapshot!.State.Sequence.Should().Be(new SequenceNumber(3));
        storage.DamagedSnapshotsSetAside.Should().Be(1);
        storage.KeptSnapshots.Select(s => s.Value).Should().Equal(3);
    }

    [Test]
    public void A_snapshot_received_in_part_is_lost_at_a_crash_and_a_whole_one_is_durable()
    {
        var storage = Loaded();
        var bytes = Bytes(Taken(8, batch: 1));
        storage.AppendReceived(new SequenceNumber(8), 0, bytes.AsSpan(0, 10));
        storage.Crash(new SimulationRandom(1), loseVolatile: true);
        storage.ReceivedBytes(new SequenceNumber(8)).Should().Be(0);

        storage.AppendReceived(new SequenceNumber(8), 0, bytes);
        storage.CompleteReceived(new SequenceNumber(8), bytes.Length).State.Sequence.Should().Be(new SequenceNumber(8));
        storage.Crash(new SimulationRandom(1), loseVolatile: true);

        storage.Load().Snapshot!.State.Sequence.Should().Be(new SequenceNumber(8));
        storage.Invoking(s => s.CompleteReceived(new SequenceNumber(7), 1)).Should().Throw<InvalidOperationException>("a received snapshot must be newer than those kept");
    }

    [Test]
    public void A_damaged_received_snapshot_is_refused()
    {
        var storage = Loaded();
        var bytes = Bytes(Taken(8, batch: 1));
        bytes[^1] ^= 0x40;
        storage.AppendReceived(new SequenceNumber(8), 0, bytes);

        storage.Invoking(s => s.CompleteReceived(new SequenceNumber(8), bytes.Length)).Should().Throw<InvalidDataException>();
        storage.KeptSnapshots.Should().BeEmpty();
    }

    [Test]
    public void A_recording_executor_restored_from_its_snapshot_goes_on_as_the_original()
    {
        var original = new RecordingExecutor();
        Execute(original, 1, 1, 1);
        Execute(original, 3, 2, 1);
        using var capture = original.CaptureSnapshot();
        using var bytes = new MemoryStream();
        capture.WriteTo(bytes);
        Execute(original, 4, 1, 2);

        var restored = new RecordingExecutor();
        IReadOnlyList<ExecutedUpdate>? reported = null;
        restored.OnRestored = history => reported = history;
        bytes.Position = 0;
        restored.RestoreSnapshot(bytes);
        Execute(restored, 4, 1, 2);

        reported!.Select(u => u.Sequence).Should().Equal(1, 3);
        restored.StateHash.Should().Be(original.StateHash);
        restored.History.Should().Equal(original.History);
    }

    [Test]
    public void The_checker_refuses_a_restored_history_that_skips_an_executed_slot()
    {
        var checker = new SafetyChecker(3);
        checker.OnSubmitted(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 }));
        checker.OnSubmitted(new ClientUpdate(new ClientId(2), 1, new byte[] { 2 }));
        checker.OnExecuted(new ReplicaId(0), new OrderedUpdate(new SequenceNumber(1), new ClientId(1), 1, new ReplicaId(0), new byte[] { 1 }));
        checker.OnExecuted(new ReplicaId(0), new OrderedUpdate(new SequenceNumber(2), new ClientId(2), 1, new ReplicaId(0), new byte[] { 2 }));
        var state = new SnapshotState { Sequence = new SequenceNumber(2), ClusterSize = 3, ClientsExpiredThrough = 1 };
        ExecutedUpdate[] skipped = [new(1, 1, 1, RecordingExecutor.Digest([1]))];

        checker.Invoking(c => c.OnRestored(new ReplicaId(1), state, skipped))
            .Should().Throw<SimulationFailureException>().WithMessage("*skipped slot 2*");
    }

    [Test]
    public void After_a_restore_an_update_the_snapshot_executed_may_not_execute_again()
    {
        var checker = new SafetyChecker(3);
        var update = new ClientUpdate(new ClientId(1), 1, new byte[] { 1 });
        checker.OnSubmitted(update);
        checker.OnExecuted(new ReplicaId(0), new OrderedUpdate(new SequenceNumber(1), new ClientId(1), 1, new ReplicaId(0), new byte[] { 1 }));
        var state = new SnapshotState
        {
            Sequence = new SequenceNumber(1),
            ClusterSize = 3,
            Clients = [new ClientTableEntry(new ClientId(1), 1, new SequenceNumber(1), BitConverter.GetBytes(1L))],
        };
        checker.OnRestored(new ReplicaId(1), state, [new ExecutedUpdate(1, 1, 1, RecordingExecutor.Digest([1]))]);

        var again = () => checker.OnExecuted(new ReplicaId(1), new OrderedUpdate(new SequenceNumber(2), new ClientId(1), 1, new ReplicaId(0), new byte[] { 1 }));

        again.Should().Throw<SimulationFailureException>().WithMessage("*exactly-once*");
    }

    private static SimulatedStorage Loaded()
    {
        var storage = new SimulatedStorage();
        _ = storage.Load();
        return storage;
    }

    private static TakenSnapshot Taken(long sequence, long batch)
    {
        var executor = new RecordingExecutor();
        return new TakenSnapshot(new SnapshotState { Sequence = new SequenceNumber(sequence), ClusterSize = 3 }, executor.CaptureSnapshot(), batch);
    }

    private static byte[] Bytes(TakenSnapshot snapshot)
    {
        using var stream = new MemoryStream();
        SnapshotFormat.Write(stream, snapshot);
        return stream.ToArray();
    }

    private static void Execute(RecordingExecutor executor, long sequence, long client, long timestamp) =>
        executor.Execute(new OrderedUpdate(new SequenceNumber(sequence), new ClientId(client), timestamp, new ReplicaId(0), new byte[] { (byte)client }));
}
