using Paxos.Protocol;
using Paxos.Storage;

namespace Paxos.Tests.Storage;

/// <summary>
/// What <see cref="InMemoryReplicaStorage"/> releases behind a snapshot: ordered slots at once, and pending updates only
/// once the batch the snapshot was taken in — which wrote the still-pending ones again — is persisted here.
/// </summary>
public class InMemoryReplicaStorageTests
{
    private static readonly ClientUpdate Early = new ClientUpdate(new ClientId(1), 1, new byte[] { 1 }).WithOrigin(new ReplicaId(0));
    private static readonly ClientUpdate StillPending = new ClientUpdate(new ClientId(2), 1, new byte[] { 2 }).WithOrigin(new ReplicaId(0));

    [Test]
    public async Task A_snapshot_releases_the_slots_it_covers_and_keeps_the_rest()
    {
        var storage = new InMemoryReplicaStorage();
        await storage.LoadAsync();
        await storage.PersistAsync(Batch(1, ordered: [1, 2, 3, 4]));

        storage.WriteSnapshot(Snapshot(sequence: 3, batch: 2));

        var state = await storage.LoadAsync();
        state.Snapshot!.State.Sequence.Should().Be(new SequenceNumber(3));
        state.OrderedSlots.Select(slot => slot.Sequence.Value).Should().Equal(4);
    }

    [Test]
    public async Task Pending_updates_survive_until_the_snapshots_batch_is_persisted()
    {
        var storage = new InMemoryReplicaStorage();
        await storage.LoadAsync();
        await storage.PersistAsync(Batch(1, ordered: [1], pending: [Early, StillPending]));

        // The snapshot is taken in batch 2, which writes StillPending again; it is written before batch 2 is persisted.
        storage.WriteSnapshot(Snapshot(sequence: 1, batch: 2));
        var loaded = await storage.LoadAsync();
        loaded.PendingUpdates.Should().Contain(u => u.ClientId == StillPending.ClientId,
            "batch 2 is not persisted: releasing the pending updates written before it would lose StillPending");
    }

    [Test]
    public async Task Pending_updates_written_before_the_snapshots_batch_are_released_once_it_is_persisted()
    {
        var storage = new InMemoryReplicaStorage();
        await storage.LoadAsync();
        await storage.PersistAsync(Batch(1, ordered: [1], pending: [Early, StillPending]));
        storage.WriteSnapshot(Snapshot(sequence: 1, batch: 2));

        await storage.PersistAsync(Batch(2, ordered: [], pending: [StillPending]));

        var state = await storage.LoadAsync();
        state.PendingUpdates.Select(u => u.ClientId).Should().Equal(StillPending.ClientId);
    }

    private static OutputBatch Batch(long number, long[] ordered, ClientUpdate[]? pending = null)
    {
        var batch = new OutputBatch(number);
        foreach (var sequence in ordered)
        {
            batch.AddOrderedSlot(new OrderedSlot(new SequenceNumber(sequence), new ClientUpdate(new ClientId(9), sequence, new byte[] { 9 })));
        }

        foreach (var update in pending ?? [])
        {
            batch.AddPendingUpdate(update);
        }

        return batch;
    }

    private static TakenSnapshot Snapshot(long sequence, long batch) =>
        new(new SnapshotState { Sequence = new SequenceNumber(sequence), ClusterSize = 3 }, new PatternSnapshot(16), batch);
}
