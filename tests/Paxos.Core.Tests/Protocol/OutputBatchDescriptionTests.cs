using Paxos.Messages;
using Paxos.Protocol;

namespace Paxos.Tests.Protocol;

/// <summary>
/// <see cref="OutputBatch.ToString"/> is what logs and the golden transcripts show of a batch, so its text is fixed
/// here: sections in the order the host works through them, empty ones left out.
/// </summary>
public class OutputBatchDescriptionTests
{
    private static readonly ReplicaId Leader = new(1);

    [Test]
    public void An_empty_batch_is_one_line()
    {
        new OutputBatch(7).ToString().Should().Be("batch 7 (empty)");
    }

    [Test]
    public void A_full_batch_lists_each_section_in_the_order_the_host_applies_it()
    {
        var batch = FullBatch();

        batch.ToString().Should().Be(
            """
            batch 7
              send now 1->* Proposal v=2 seq=3 early [c4#1]
              reply c1#1 executed at 1
              reply c5#2 Superseded
              persist, sync: view=2 attempted=2 rebuild=completed proposals=[v2 seq=1..2 c1#1 c2#1; v2 seq=3 c4#1] pending=[c3#1 c4#1] ordered=1..2
              then send 1->* Accept v=2 seq=1..2
              then send 1->0 Prepare v=2 aru=0
            """.Replace("\r\n", "\n", StringComparison.Ordinal));
    }

    [Test]
    public void Ordered_slots_alone_are_persisted_without_a_sync_and_shown_as_runs()
    {
        var batch = new OutputBatch(3);
        foreach (var sequence in new long[] { 4, 5, 6, 9, 11, 12 })
        {
            batch.AddOrderedSlot(new OrderedSlot(new SequenceNumber(sequence), Update(1, sequence)));
        }

        batch.ToString().Should().Be("batch 3\n  persist, no sync: ordered=4..6,9,11..12");
    }

    [Test]
    public void Long_update_lists_show_the_first_eight_as_messages_do()
    {
        var batch = new OutputBatch(2);
        for (var client = 1; client <= 10; client++)
        {
            batch.AddPendingUpdate(Update(client, 1));
        }

        batch.ToString().Should().Be("batch 2\n  persist, sync: pending=[c1#1 c2#1 c3#1 c4#1 c5#1 c6#1 c7#1 c8#1 +2]");
    }

    private static OutputBatch FullBatch()
    {
        var view = new ViewNumber(2);
        var batch = new OutputBatch(7) { InstalledView = view, AttemptedView = view, RebuildCompleted = true };
        var early = new Proposal(Leader, view, new SequenceNumber(3), [Update(4, 1)], impliesLeaderAcceptance: false);
        batch.AddImmediateMessage(new OutboundMessage(ReplicaId.None, early));
        batch.AddReply(new ClientReply(new ClientId(1), 1, new SequenceNumber(1), ReplyStatus.Executed, ReadOnlyMemory<byte>.Empty));
        batch.AddReply(new ClientReply(new ClientId(5), 2, SequenceNumber.None, ReplyStatus.Superseded, ReadOnlyMemory<byte>.Empty));
        batch.AddAcceptedProposal(new Proposal(Leader, view, new SequenceNumber(1), [Update(1, 1), Update(2, 1)]));
        batch.AddAcceptedProposal(early);
        batch.AddPendingUpdate(Update(3, 1));
        batch.AddPendingUpdate(Update(4, 1));
        batch.AddOrderedSlot(new OrderedSlot(new SequenceNumber(1), Update(1, 1)));
        batch.AddOrderedSlot(new OrderedSlot(new SequenceNumber(2), Update(2, 1)));
        batch.AddMessage(new OutboundMessage(ReplicaId.None, new Accept(Leader, view, new SequenceNumber(1), new SequenceNumber(2))));
        batch.AddMessage(new OutboundMessage(new ReplicaId(0), new Prepare(Leader, view, SequenceNumber.None)));
        return batch;
    }

    private static ClientUpdate Update(long client, long timestamp) =>
        new(new ClientId(client), timestamp, new byte[] { 1 });
}
