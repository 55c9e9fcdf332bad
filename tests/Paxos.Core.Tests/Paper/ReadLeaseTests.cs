using Paxos.Messages;
using Paxos.Protocol;
using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>Read leases (docs/protocol-notes.md, "Read leases"): one rule per test. Drift is the default 1 %, so a
/// promise of P ticks counted from a round's start gives the leader ⌊P · 0.99 / 1.01⌋ − 2 ticks.</summary>
public sealed class ReadLeaseTests
{
    private static ReadRequestId Read(long id) => new(id);

    private static IEnumerable<ReadRequestId> Ready(ReplicaFixture fixture) => fixture.Batches.SelectMany(b => b.ReadsReady);

    /// <summary>A replica with leases on, past the vote it holds after starting. The fixture's progress timeout is 1,000
    /// ticks, so a leader renews a lease of fewer than 500 ticks at once.</summary>
    private static ReplicaFixture Started(int id, int clusterSize = 3)
    {
        var fixture = new ReplicaFixture(id, clusterSize, o => o.ReadLeases = true);
        fixture.Tick(fixture.Options.ProgressTimeoutTicks);
        return fixture;
    }

    private static ReplicaFixture Leader(int clusterSize = 3)
    {
        var fixture = Started(1, clusterSize);
        fixture.BecomeLeader(V(1));
        return fixture.Clear();
    }

    private static ReplicaFixture Follower()
    {
        var fixture = Started(0);
        fixture.Deliver(new Prepare(R(1), V(1), S(0)));
        fixture.Status.State.Should().Be(ReplicaState.RegularNonLeader);
        return fixture.Clear();
    }

    /// <summary>Reads once, which starts round 1, and has replica 2 confirm it with a promise.</summary>
    private static long LeaseFromRound(ReplicaFixture leader, long promise, long readId = 1)
    {
        leader.Replica.RequestRead(Read(readId));
        leader.Flush();
        var round = leader.MessagesOf<ReadConfirmRequest>().Last().Round;
        leader.Deliver(new ReadConfirm(R(2), V(1), round, promise));
        Ready(leader).Should().Contain(Read(readId));
        return round;
    }

    [Test]
    public void A_follower_promises_what_its_progress_timer_has_left_less_one()
    {
        var follower = Follower();
        follower.Deliver(new ReadConfirmRequest(R(1), V(1), 1));
        follower.MessagesOf<ReadConfirm>().Should().ContainSingle().Which.LeaseTicks.Should().Be(follower.Options.ProgressTimeoutTicks - 1);

        follower.Clear();
        follower.Tick(30);
        follower.Deliver(new ReadConfirmRequest(R(1), V(1), 2));
        follower.MessagesOf<ReadConfirm>().Should().ContainSingle().Which.LeaseTicks.Should().Be(follower.Options.ProgressTimeoutTicks - 31);
    }

    [Test]
    public void Without_leases_a_follower_promises_nothing()
    {
        var follower = NonLeaderOfView1(id: 0);
        follower.Deliver(new ReadConfirmRequest(R(1), V(1), 1));
        follower.MessagesOf<ReadConfirm>().Should().ContainSingle().Which.LeaseTicks.Should().Be(0);
    }

    [Test]
    public void A_replica_that_starts_holds_its_vote_for_a_progress_timeout()
    {
        // A promise made before a restart is forgotten with it: for as long as one could still run, no View_Change and
        // no Prepare_OK for a later view.
        var fixture = new ReplicaFixture(0, 3, o => (o.ReadLeases, o.ProgressTimeoutTicks, o.ViewChangeRetransmitTicks) = (true, 100, 20));
        fixture.MessagesOf<ViewChange>().Should().BeEmpty();

        fixture.Deliver(new Prepare(R(1), V(1), S(0)));
        fixture.Counters.Dropped(DropReason.VoteHeld).Should().Be(1);
        fixture.MessagesOf<PrepareOk>().Should().BeEmpty();
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);

        fixture.Tick(fixture.Options.ProgressTimeoutTicks - 1);
        fixture.MessagesOf<ViewChange>().Should().BeEmpty("the view change timer fired, but the vote is held");

        fixture.Tick();
        fixture.MessagesOf<ViewChange>().Should().ContainSingle().Which.Attempted.Should().Be(V(1));
        fixture.Deliver(new Prepare(R(1), V(1), S(0)));
        fixture.Status.State.Should().Be(ReplicaState.RegularNonLeader);
        fixture.MessagesOf<PrepareOk>().Should().ContainSingle();
    }

    [Test]
    public void Under_a_lease_the_leader_serves_a_read_without_a_round()
    {
        var leader = Leader();
        LeaseFromRound(leader, promise: 99);
        leader.Clear();

        leader.Replica.RequestRead(Read(2));
        leader.Flush();
        Ready(leader).Should().Equal(Read(2));
        leader.MessagesOf<ReadConfirmRequest>().Should().BeEmpty();
        leader.Counters.ReadsUnderLease.Should().Be(1);
    }

    [Test]
    public void The_lease_is_the_promise_shortened_for_drift_and_ends_on_time()
    {
        // Promise 99 → ⌊99 · 0.99 / 1.01⌋ − 2 = 95 ticks from the round's start.
        var leader = Leader();
        LeaseFromRound(leader, promise: 99);
        leader.Tick(94);
        leader.Clear();
        leader.Replica.RequestRead(Read(2));
        leader.Flush();
        Ready(leader).Should().Equal(Read(2));

        leader.Tick();
        leader.Clear();
        leader.Replica.RequestRead(Read(3));
        leader.Flush();
        Ready(leader).Should().BeEmpty("the lease ended: the read waits for a round");
    }

    [Test]
    public void The_leader_renews_its_lease_while_reads_come()
    {
        // Promise 999 → ⌊999 · 0.99 / 1.01⌋ − 2 = 977 ticks; renewed when 500 are left.
        var leader = Leader();
        var first = LeaseFromRound(leader, promise: 999);
        leader.Clear();
        leader.Tick(476);
        leader.MessagesOf<ReadConfirmRequest>().Should().BeEmpty("more than half a progress timeout is left");

        leader.Tick();
        var renewal = leader.MessagesOf<ReadConfirmRequest>().Should().ContainSingle().Subject;
        renewal.Round.Should().Be(first + 1);
        leader.Counters.LeaseRenewals.Should().Be(1);

        // The renewal's answer extends the lease to 477 + 977 ticks after the first round's start.
        leader.Deliver(new ReadConfirm(R(0), V(1), renewal.Round, 999));
        leader.Tick(600);
        leader.Replica.RequestRead(Read(2));
        leader.Flush();
        leader.Counters.ReadsUnderLease.Should().Be(1, "the first lease ended at 977");
    }

    [Test]
    public void Without_reads_the_leader_lets_its_lease_lapse()
    {
        // Peers answer every round at once; the last read came at tick 0, so rounds stop once a progress timeout passed.
        var leader = Leader();
        LeaseFromRound(leader, promise: 999);
        var lastRoundAt = 0;
        for (var tick = 1; tick <= 1400; tick++)
        {
            leader.Clear();
            leader.Tick();
            foreach (var request in leader.MessagesOf<ReadConfirmRequest>())
            {
                lastRoundAt = tick;
                leader.Deliver(new ReadConfirm(R(0), V(1), request.Round, 999));
            }
        }

        leader.Counters.LeaseRenewals.Should().Be(2, "renewed at ticks 477 and 954, while reads still counted as recent");
        lastRoundAt.Should().Be(954);
        leader.Status.State.Should().Be(ReplicaState.RegularLeader);
    }

    [Test]
    public void A_lease_needs_promises_from_a_majority()
    {
        // Five replicas: the leader and two peers. The lease ends with the shorter of the two longest promises.
        var leader = Leader(clusterSize: 5);
        leader.Replica.RequestRead(Read(1));
        leader.Flush();
        var round = leader.MessagesOf<ReadConfirmRequest>().Single().Round;
        leader.Deliver(new ReadConfirm(R(2), V(1), round, 99));
        Ready(leader).Should().BeEmpty("two of five");
        leader.Clear();
        leader.Replica.RequestRead(Read(2));
        leader.Flush();
        Ready(leader).Should().BeEmpty("one promise is no lease");

        leader.Deliver(new ReadConfirm(R(3), V(1), round, 40));
        Ready(leader).Should().Contain(Read(1));

        // ⌊40 · 0.99 / 1.01⌋ − 2 = 37 ticks.
        leader.Tick(36);
        leader.Clear();
        leader.Replica.RequestRead(Read(3));
        leader.Flush();
        Ready(leader).Should().Equal(Read(3));
        leader.Tick();
        leader.Clear();
        leader.Replica.RequestRead(Read(4));
        leader.Flush();
        Ready(leader).Should().BeEmpty();
    }

    [Test]
    public void An_answer_to_an_older_round_grants_nothing()
    {
        // A promise counts from the start of the round it answers; only the latest round's start is known.
        var leader = Leader();
        leader.Replica.RequestRead(Read(1));
        leader.Flush();
        var first = leader.MessagesOf<ReadConfirmRequest>().Single().Round;
        leader.Deliver(new ReadConfirm(R(2), V(1), first));
        leader.Clear();
        leader.Replica.RequestRead(Read(2));
        leader.Flush();
        leader.MessagesOf<ReadConfirmRequest>().Should().ContainSingle().Which.Round.Should().Be(first + 1);

        leader.Deliver(new ReadConfirm(R(0), V(1), first, 99));
        leader.Counters.Dropped(DropReason.StaleAnswer).Should().Be(1);
        leader.Clear();
        leader.Replica.RequestRead(Read(3));
        leader.Flush();
        Ready(leader).Should().BeEmpty();
    }

    [Test]
    public void A_lease_read_that_outlives_the_lease_waits_for_a_round()
    {
        var leader = Leader();
        LeaseFromRound(leader, promise: 20); // ⌊20 · 0.99 / 1.01⌋ − 2 = 17 ticks.
        leader.Submit(U(7, 1)).Should().Be(SubmitStatus.Accepted);
        var proposal = leader.MessagesOf<Proposal>().Should().ContainSingle().Subject;
        leader.Clear();

        leader.Replica.RequestRead(Read(2));
        leader.Flush();
        Ready(leader).Should().BeEmpty("slot 1 is not executed yet");

        // Less than half a progress timeout is left at once, so a renewal round is in flight; the read, once the lease
        // is over, waits for the round after it.
        leader.Tick(17);
        var renewal = leader.MessagesOf<ReadConfirmRequest>().Should().ContainSingle().Subject;
        leader.Deliver(Accept(0, 1, proposal.FirstSequence.Value));
        Ready(leader).Should().BeEmpty("executed, but the lease is over and no round answered");

        leader.Deliver(new ReadConfirm(R(2), V(1), renewal.Round));
        Ready(leader).Should().BeEmpty("the renewal round started before the read needed one");
        var next = leader.MessagesOf<ReadConfirmRequest>().Last();
        next.Round.Should().Be(renewal.Round + 1);

        leader.Deliver(new ReadConfirm(R(2), V(1), next.Round));
        Ready(leader).Should().Equal(Read(2));
    }

    [Test]
    public void Under_a_lease_the_leader_answers_a_read_index_request_at_once()
    {
        var leader = Leader();
        LeaseFromRound(leader, promise: 99);
        leader.Clear();

        leader.Deliver(new ReadIndexRequest(R(0), V(1), 42));
        leader.SentOf<ReadIndexReply>().Should().ContainSingle().Which.To.Should().Be(R(0));
        leader.MessagesOf<ReadConfirmRequest>().Should().BeEmpty();
    }

    [Test]
    public void A_promise_without_leases_on_at_the_leader_is_ignored()
    {
        var leader = LeaderOfView1();
        leader.Replica.RequestRead(Read(1));
        leader.Flush();
        var round = leader.MessagesOf<ReadConfirmRequest>().Single().Round;
        leader.Deliver(new ReadConfirm(R(2), V(1), round, 99));
        leader.Clear();

        leader.Replica.RequestRead(Read(2));
        leader.Flush();
        Ready(leader).Should().BeEmpty();
        leader.MessagesOf<ReadConfirmRequest>().Should().ContainSingle();
    }

    /// <summary>Replica 1 of 5 restarted with view 5 installed (led by replica 0), holding its vote; view 6 is its own.</summary>
    private static ReplicaFixture RestartedHolding() =>
        new(1, 5, o => o.ReadLeases = true, new PersistentState { LastInstalled = V(5), LastAttempted = V(5) });

    [Test]
    public void A_held_replica_does_not_preinstall_a_view_it_would_lead()
    {
        // Found in review: others' votes (one of them a late, stale vote of a peer that promised since) made it
        // preinstall view 6 and count its own Prepare_OK towards installing it.
        var fixture = RestartedHolding();
        fixture.Status.LastAttempted.Should().Be(V(6));
        fixture.Deliver(new ViewChange(R(2), V(6)), new ViewChange(R(3), V(6)), new ViewChange(R(4), V(6)));
        fixture.Deliver(new PrepareOk(R(3), V(6), 0, 1, []), new PrepareOk(R(4), V(6), 0, 1, []));
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection, "its vote is held");
        fixture.MessagesOf<Prepare>().Should().BeEmpty();

        fixture.Tick(fixture.Options.ProgressTimeoutTicks);
        fixture.MessagesOf<Prepare>().Should().ContainSingle("once the hold ends it counts the votes it has");
    }

    [Test]
    public void A_held_replica_that_joined_by_a_followers_proof_sends_no_prepare_ok()
    {
        // Found in review: it jumped to view 8 on replica 4's VC_Proof (a follower of a view not yet installed by a
        // majority) and then answered the leader's Prepare as a retransmission.
        var fixture = RestartedHolding();
        fixture.Deliver(new VcProof(R(4), V(8)));
        fixture.Deliver(new Prepare(R(3), V(8), S(0)));
        fixture.MessagesOf<PrepareOk>().Should().BeEmpty("its vote is held");
        fixture.Counters.Dropped(DropReason.VoteHeld).Should().Be(1);
    }
}
