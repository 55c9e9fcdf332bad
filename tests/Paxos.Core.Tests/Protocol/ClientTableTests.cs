using Paxos.Protocol;

namespace Paxos.Tests.Protocol;

/// <summary>
/// The client table's bound: a client is forgotten a fixed number of slots after its last execution, clients are
/// listed by that slot, and a client that keeps executing holds one entry however often it executes.
/// </summary>
public class ClientTableTests
{
    [Test]
    public void A_client_that_executes_again_moves_behind_the_others()
    {
        var table = new ClientTable(expirySlots: 100);
        table.Record(new ClientId(1), 1, 1, default);
        table.Record(new ClientId(2), 1, 2, default);
        table.Record(new ClientId(1), 2, 3, default);

        table.InExecutionOrder().Select(e => (e.Client.Value, e.Record.Timestamp, e.Record.Sequence))
            .Should().Equal((2L, 1L, 2L), (1L, 2L, 3L));
    }

    [Test]
    public void Expiry_counts_from_a_clients_last_execution()
    {
        var table = new ClientTable(expirySlots: 10);
        table.Record(new ClientId(1), 1, 1, default);
        table.Record(new ClientId(2), 4, 2, default);
        table.Record(new ClientId(1), 2, 5, default);

        table.ExpireBefore(12).Should().Be(1, "client 2 last executed at slot 2, 10 slots before 12");
        table.TryGet(new ClientId(2), out _).Should().BeFalse();
        table.ExpiredThrough.Should().Be(4);
        table.TryGet(new ClientId(1), out var kept).Should().BeTrue("client 1 executed again at slot 5");
        kept.Timestamp.Should().Be(2);

        table.ExpireBefore(15).Should().Be(1);
        table.Count.Should().Be(0);
        table.ExpiredThrough.Should().Be(4, "the mark never falls");
    }

    [Test]
    public void A_busy_client_holds_one_entry()
    {
        var table = new ClientTable(expirySlots: 1_000_000);
        for (long slot = 1; slot <= 100_000; slot++)
        {
            table.Record(new ClientId(1 + (slot % 3)), slot, slot, default);
        }

        table.Count.Should().Be(3);
        table.InExecutionOrder().Should().HaveCount(3, "one entry per client, not one per execution in the window");
        table.InExecutionOrder().Select(e => e.Record.Sequence).Should().BeInAscendingOrder();
    }

    [Test]
    public void A_restored_table_lists_and_expires_like_the_original()
    {
        var original = new ClientTable(expirySlots: 10);
        original.Record(new ClientId(7), 3, 1, new byte[] { 1 });
        original.Record(new ClientId(5), 9, 4, new byte[] { 2 });
        original.ExpireBefore(5);

        var restored = new ClientTable(expirySlots: 10);
        restored.Restore(original.ExpiredThrough, original.InExecutionOrder().ToArray());

        restored.InExecutionOrder().Select(e => e.Client).Should().Equal(original.InExecutionOrder().Select(e => e.Client));
        restored.ExpireBefore(12).Should().Be(original.ExpireBefore(12));
        restored.ExpiredThrough.Should().Be(original.ExpiredThrough);
    }
}
