using Paxos.Hosting;

namespace Paxos.Tests.Hosting;

/// <summary>The node's inbox of reads: bounded, oldest first, and closed by a stop.</summary>
public sealed class ReadInboxTests
{
    private static PendingRead NewRead() => new(new byte[] { 1 });

    [Test]
    public void Reads_come_out_oldest_first_and_the_bound_refuses_the_rest()
    {
        var inbox = new ReadInbox(capacity: 3);
        var reads = Enumerable.Range(0, 3).Select(_ => NewRead()).ToArray();
        foreach (var read in reads)
        {
            inbox.TryPost(read).Should().Be(ReadPost.Posted);
        }

        inbox.TryPost(NewRead()).Should().Be(ReadPost.Full);
        inbox.Count.Should().Be(3);

        inbox.TryTake(out var first).Should().BeTrue();
        ReferenceEquals(first, reads[0]).Should().BeTrue();
        inbox.Taken(1);
        inbox.TryPost(NewRead()).Should().Be(ReadPost.Posted, "taking one made room for one");
        inbox.TryPost(NewRead()).Should().Be(ReadPost.Full);
    }

    [Test]
    public void A_read_posted_after_the_close_is_told_so_and_is_left_to_take()
    {
        var inbox = new ReadInbox(capacity: 8);
        var before = NewRead();
        inbox.TryPost(before).Should().Be(ReadPost.Posted);
        inbox.Close();
        var taken = inbox.TakeAll();
        taken.Should().ContainSingle();
        ReferenceEquals(taken[0], before).Should().BeTrue();

        // A post that raced with the stop's look: its poster fails what it finds.
        var after = NewRead();
        inbox.TryPost(after).Should().Be(ReadPost.Closed);
        var left = inbox.TakeAll();
        left.Should().ContainSingle();
        ReferenceEquals(left[0], after).Should().BeTrue();
        inbox.Count.Should().Be(0);
        inbox.IsEmpty.Should().BeTrue();
    }
}
