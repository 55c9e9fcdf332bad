using Paxos.Messages;
using Paxos.Protocol;
using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>Linearizable reads by read index (docs/protocol-notes.md, "Linearizable reads"): one rule per test.</summary>
public sealed class ReadTests
{
    private static ReadRequestId Read(long id) => new(id);

    private static IEnumerable<ReadRequestId> Ready(ReplicaFixture fixture) => fixture.Batches.SelectMany(b => b.ReadsReady);

    private static IEnumerable<FailedRead> Failed(ReplicaFixture fixture) => fixture.Batches.SelectMany(b => b.ReadsFailed);

    private static OutputBatch RequestRead(ReplicaFixture fixture, long id)
    {
        fixture.Replica.RequestRead(Read(id));
        return fixture.Flush();
    }

    [Test]
    public void Leader_read_waits_for_a_majority_to_confirm_the_view()
    {
        // The leader serves a read only once a majority, itself included, answered a confirmation round started after it.
        var fixture = LeaderOfView1(clusterSize: 5);
        RequestRead(fixture, 1);

        var (to, request) = fixture.SentOf<ReadConfirmRequest>().Should().ContainSingle().Subject;
        to.IsNone.Should().BeTrue("the round goes to every peer");
        request.View.Should().Be(V(1));
        Ready(fixture).Should().BeEmpty("no peer answered yet");

        fixture.Deliver(new ReadConfirm(R(2), V(1), request.Round));
        Ready(fixture).Should().BeEmpty("two of five is not a majority");

        fixture.Deliver(new ReadConfirm(R(2), V(1), request.Round));
        Ready(fixture).Should().BeEmpty("a duplicate answer does not count twice");

        fixture.Deliver(new ReadConfirm(R(3), V(1), request.Round));
        Ready(fixture).Should().Equal(Read(1));
    }

    [Test]
    public void Leader_read_waits_for_execution_through_its_index()
    {
        // The read index covers what the leader proposed; the read is served only once that executed.
        var fixture = LeaderOfView1();
        fixture.Submit(U(7, 1)).Should().Be(SubmitStatus.Accepted);
        var proposal = fixture.MessagesOf<Proposal>().Should().ContainSingle().Subject;
        fixture.Clear();

        RequestRead(fixture, 1);
        var round = fixture.MessagesOf<ReadConfirmRequest>().Single().Round;
        fixture.Deliver(new ReadConfirm(R(0), V(1), round));
        Ready(fixture).Should().BeEmpty("slot 1 is proposed but not yet ordered");

        fixture.Deliver(Accept(0, 1, proposal.FirstSequence.Value));
        fixture.Status.LocalAru.Should().Be(S(1));
        Ready(fixture).Should().Equal(Read(1));
    }

    [Test]
    public void Reads_arriving_during_a_round_share_the_next_one()
    {
        // One round in flight: reads registered after it started wait for the next, which starts when it ends.
        var fixture = LeaderOfView1();
        RequestRead(fixture, 1);
        RequestRead(fixture, 2);
        RequestRead(fixture, 3);
        var first = fixture.MessagesOf<ReadConfirmRequest>().Should().ContainSingle().Subject;

        fixture.Clear();
        fixture.Deliver(new ReadConfirm(R(0), V(1), first.Round));
        Ready(fixture).Should().Equal(Read(1));
        var next = fixture.MessagesOf<ReadConfirmRequest>().Should().ContainSingle().Subject;
        next.Round.Should().Be(first.Round + 1);

        fixture.Deliver(new ReadConfirm(R(2), V(1), first.Round));
        Ready(fixture).Should().Equal([Read(1)], "an answer to the earlier round does not confirm reads of the later one");

        fixture.Deliver(new ReadConfirm(R(2), V(1), next.Round));
        Ready(fixture).Should().Equal(Read(1), Read(2), Read(3));
        fixture.Counters.ReadRoundsStarted.Should().Be(2);
    }

    [Test]
    public void Deposed_leader_never_confirms_a_read()
    {
        // A leader whose peers moved to a later view gets no answers, and fails the read when it leaves its view.
        var fixture = LeaderOfView1(configure: o => o.ReadTimeout = TimeSpan.FromSeconds(100));
        RequestRead(fixture, 1);
        var round = fixture.MessagesOf<ReadConfirmRequest>().Single().Round;

        fixture.TicksUntil(() => fixture.Status.State == ReplicaState.LeaderElection, 5000).Should().BePositive();
        fixture.Deliver(new ReadConfirm(R(0), V(1), round));

        Ready(fixture).Should().BeEmpty();
        Failed(fixture).Should().Equal(new FailedRead(Read(1), ReadFailure.NotLeader));
    }

    [Test]
    public void A_peer_confirms_only_the_view_it_installed_and_follows()
    {
        // The answer says the peer sent no Prepare_OK for a later view: only a follower of that very view gives it.
        var follower = NonLeaderOfView1(id: 0);
        follower.Deliver(new ReadConfirmRequest(R(1), V(1), 4));
        follower.SentOf<ReadConfirm>().Should().ContainSingle().Which.Should().Match<(ReplicaId To, ReadConfirm Message)>(
            m => m.To == R(1) && m.Message.View == V(1) && m.Message.Round == 4);

        follower.Clear();
        follower.Deliver(new ViewChange(R(2), V(2)));
        follower.Tick(follower.Options.ProgressTimeoutTicks + 1);
        follower.Clear();
        follower.Deliver(new ReadConfirmRequest(R(1), V(1), 5));
        follower.MessagesOf<ReadConfirm>().Should().BeEmpty("a replica that left view 1 no longer vouches for it");
    }

    [Test]
    public void Leader_not_yet_regular_does_not_take_reads()
    {
        // A leader in its Prepare phase does not know what earlier views ordered: its reads fail at once.
        var fixture = new ReplicaFixture(1);
        fixture.Deliver(new ViewChange(R(0), V(1)));
        fixture.Status.LastInstalled.Should().Be(V(1));
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection, "the Prepare phase is not complete");
        fixture.Clear();

        RequestRead(fixture, 1);
        Failed(fixture).Should().Equal(new FailedRead(Read(1), ReadFailure.LeaderUnknown));
        fixture.MessagesOf<ReadConfirmRequest>().Should().BeEmpty();
    }

    [Test]
    public void Follower_read_waits_for_the_leaders_index_and_its_own_execution()
    {
        // A non-leader asks the leader for the index and serves only once it executed through it.
        var follower = NonLeaderOfView1(id: 0);
        RequestRead(follower, 9);
        var (to, request) = follower.SentOf<ReadIndexRequest>().Should().ContainSingle().Subject;
        to.Should().Be(R(1));
        request.RequestId.Should().Be(9);

        follower.Deliver(new ReadIndexReply(R(1), V(1), 9, S(1)));
        Ready(follower).Should().BeEmpty("slot 1 has not executed here");

        follower.Deliver(Ordered(2, 1, U(4, 1)));
        follower.Status.LocalAru.Should().Be(S(1));
        Ready(follower).Should().Equal(Read(9));
    }

    [Test]
    public void Leader_answers_a_read_index_request_after_its_round()
    {
        // The index goes back to the requester only once a majority confirmed a round started after the request.
        var fixture = LeaderOfView1();
        fixture.Deliver(new ReadIndexRequest(R(0), V(1), 42));
        var round = fixture.MessagesOf<ReadConfirmRequest>().Single().Round;
        fixture.MessagesOf<ReadIndexReply>().Should().BeEmpty();

        fixture.Deliver(new ReadConfirm(R(2), V(1), round));
        var (to, reply) = fixture.SentOf<ReadIndexReply>().Should().ContainSingle().Subject;
        to.Should().Be(R(0));
        reply.RequestId.Should().Be(42);
        reply.Index.Should().Be(S(0));
    }

    [Test]
    public void View_change_fails_a_followers_pending_read()
    {
        // The index a follower waits for belongs to its view: leaving the view fails the read.
        var follower = NonLeaderOfView1(id: 0, configure: o => o.ReadTimeout = TimeSpan.FromSeconds(100));
        RequestRead(follower, 3);
        follower.Deliver(new ViewChange(R(2), V(2)));
        follower.Tick(follower.Options.ProgressTimeoutTicks + 1);

        Failed(follower).Should().Equal(new FailedRead(Read(3), ReadFailure.NotLeader));
        follower.Deliver(new ReadIndexReply(R(1), V(1), 3, S(0)));
        Ready(follower).Should().BeEmpty();
    }

    [Test]
    public void Read_times_out_after_ReadTimeoutTicks()
    {
        var follower = NonLeaderOfView1(id: 0, configure: o => o.ReadTimeout = TimeSpan.FromMilliseconds(50));
        RequestRead(follower, 3);
        follower.Tick(4);
        Failed(follower).Should().BeEmpty();
        follower.Tick(1);
        Failed(follower).Should().Equal(new FailedRead(Read(3), ReadFailure.Timeout));
    }

    [Test]
    public void Pending_reads_are_bounded()
    {
        var fixture = LeaderOfView1(configure: o => o.MaxPendingReads = 2);
        RequestRead(fixture, 1);
        RequestRead(fixture, 2);
        RequestRead(fixture, 3);
        Failed(fixture).Should().Equal(new FailedRead(Read(3), ReadFailure.Overloaded));
        fixture.Deliver(new ReadIndexRequest(R(0), V(1), 4));
        fixture.Counters.Dropped(DropReason.QueueFull).Should().Be(1);
    }

    [Test]
    public void Single_replica_serves_reads_at_once()
    {
        var fixture = new ReplicaFixture(0, clusterSize: 1);
        fixture.TicksUntil(() => fixture.Status.State == ReplicaState.RegularLeader, 100).Should().BePositive();
        fixture.Clear();
        RequestRead(fixture, 1);
        Ready(fixture).Should().Equal(Read(1));
    }
}
