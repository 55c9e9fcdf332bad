using Paxos.Hosting;
using Paxos.Protocol;
using Paxos.Tests.Storage;
using static Paxos.Tests.Storage.StorageTestSupport;

namespace Paxos.Tests.Hosting;

/// <summary>The node's storage thread: batches come back durable, in the order they were handed over, and a failed
/// write surfaces to the loop instead of being lost.</summary>
public class StorageWriterTests : TempDirectoryFixture
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Test]
    public void Batches_come_back_durable_in_the_order_they_were_handed_over()
    {
        var storage = Open(Temp.Path);
        Load(storage);
        using var woken = new SemaphoreSlim(0);
        var writer = new StorageWriter(storage, _ => woken.Release(), "test storage");

        for (var i = 1; i <= 50; i++)
        {
            writer.Enqueue(PendingBatch(i, client: i, timestamp: 1));
        }

        var back = new List<OutputBatch>();
        while (back.Count < 50)
        {
            woken.Wait(Patience).Should().BeTrue("the writer wakes the loop after every group it makes durable");
            writer.TakeDurable(back);
        }

        back.Select(b => b.Number).Should().Equal(Enumerable.Range(1, 50).Select(i => (long)i));
        writer.InFlight.Should().Be(0);
        storage.Counters.Fsyncs.Should().BeInRange(1, 50, "groups handed over together share an fsync");
        writer.Dispose();
        storage.Dispose();
        using var reopened = Open(Temp.Path);
        Load(reopened).PendingUpdates.Select(u => u.ClientId.Value).Should().Equal(Enumerable.Range(1, 50).Select(i => (long)i));
    }

    [Test]
    public void A_graceful_stop_writes_everything_handed_over_first()
    {
        var storage = Open(Temp.Path);
        Load(storage);
        var writer = new StorageWriter(storage, _ => { }, "test storage");
        for (var i = 1; i <= 20; i++)
        {
            writer.Enqueue(OrderedBatch(i, sequence: i, client: i, timestamp: 1));
        }

        writer.Dispose();
        storage.Dispose();

        using var reopened = Open(Temp.Path);
        Load(reopened).OrderedSlots.Select(o => o.Sequence.Value).Should().Equal(Enumerable.Range(1, 20).Select(i => (long)i),
            "even the lazily written ordered slots are on disk after a stop");
    }

    [Test]
    public void A_failed_write_is_thrown_to_the_loop_and_nothing_after_it_comes_back()
    {
        var storage = Open(Temp.Path);
        Load(storage);
        using var woken = new SemaphoreSlim(0);
        using var writer = new StorageWriter(storage, _ => woken.Release(), "test storage");
        writer.Enqueue(PendingBatch(1, client: 1, timestamp: 1));
        woken.Wait(Patience).Should().BeTrue();
        var back = new List<OutputBatch>();
        writer.TakeDurable(back);
        back.Should().ContainSingle();

        storage.Dispose(); // Every later write fails.
        writer.Enqueue(PendingBatch(2, client: 2, timestamp: 1));
        woken.Wait(Patience).Should().BeTrue("a failure wakes the loop too");

        writer.HasDurable.Should().BeTrue("the failure waits for the loop");
        var take = () => writer.TakeDurable(back);
        take.Should().Throw<IOException>().WithInnerException<ObjectDisposedException>();
        back.Should().ContainSingle("the failed batch never comes back as durable");
    }
}
