using Paxos.Messages;
using Paxos.Protocol;

using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>PROTOCOL.md §10 (TR §5.7, Figs. 12–13): client updates at each state, the Update_Timer, and G12/G13.</summary>
public class ClientHandlingTests
{
    [Test]
    public void Submit_in_leader_election_only_takes_responsibility()
    {
        // §10.2 LEADER_ELECTION: a local update goes to Pending_Updates (synced); there is no leader to forward it to.
        var fixture = new ReplicaFixture(0).Clear();

        fixture.Submit(U(1, 1)).Should().Be(SubmitStatus.Accepted);

        var batch = fixture.Batches.Should().ContainSingle().Subject;
        batch.PendingUpdates.Should().ContainSingle().Which.Should().Match<ClientUpdate>(u => u.ClientId == new ClientId(1) && u.Origin == R(0));
        batch.RequiresSync.Should().BeTrue();
        batch.Messages.Should().BeEmpty();
        fixture.Status.PendingUpdates.Should().Be(1);
        fixture.Status.UpdateQueueLength.Should().Be(0);
    }

    [Test]
    public void Submit_at_a_non_leader_is_persisted_and_forwarded_to_the_leader_in_the_same_batch()
    {
        // §10.2 REG_NONLEADER: Add_to_Pending_Updates (synced), then forward to the leader — after the sync (§16.1 #5).
        var fixture = NonLeaderOfView1();

        fixture.Submit(U(1, 1)).Should().Be(SubmitStatus.Accepted);

        var batch = fixture.Batches.Should().ContainSingle().Subject;
        batch.PendingUpdates.Should().ContainSingle();
        batch.RequiresSync.Should().BeTrue();
        var (to, forward) = batch.Messages.Should().ContainSingle().Subject;
        to.Should().Be(R(1));
        forward.Should().BeOfType<ClientUpdateForward>().Which.Updates.Should().ContainSingle()
            .Which.Should().Match<ClientUpdate>(u => u.ClientId == new ClientId(1) && u.Origin == R(0));
    }

    [Test]
    public void Submit_at_the_leader_is_enqueued_and_proposed()
    {
        // §10.2 REG_LEADER: Enqueue_Update, Add_to_Pending_Updates, Send_Proposal (TR Fig. 12 A); the origin replies on execution.
        var fixture = LeaderOfView1();

        fixture.Replica.Submit(U(1, 1)).Should().Be(SubmitStatus.Accepted);
        fixture.Status.UpdateQueueLength.Should().Be(1);
        var batch = fixture.Flush();

        batch.PendingUpdates.Should().ContainSingle();
        batch.AcceptedProposals.Should().ContainSingle().Which.Updates.Select(u => u.ToString()).Should().Equal("c1#1");
        fixture.Status.UpdateQueueLength.Should().Be(0);

        fixture.Deliver(Accept(0, 1, 1));

        var reply = fixture.Replies.Should().ContainSingle().Subject;
        reply.Should().Match<ClientReply>(r => r.ClientId == new ClientId(1) && r.Timestamp == 1 && r.Sequence == S(1) && r.Status == ReplyStatus.Executed);
        reply.Result.ToArray().Should().Equal(TestExecutor.Reply(1));
        fixture.Status.PendingUpdates.Should().Be(0);
    }

    [Test]
    public void Origin_replies_to_its_client_when_the_update_executes()
    {
        // §9.5 step 1: the origin server replies and drops the update from Pending_Updates when it executes (TR Fig. 10 D3–D5).
        var fixture = NonLeaderOfView1();
        fixture.Submit(U(1, 1));
        var forwarded = fixture.MessagesOf<ClientUpdateForward>().Single().Updates[0];

        fixture.Deliver(Proposal(1, 1, 1, forwarded));

        fixture.Replies.Should().ContainSingle().Which.Should().Match<ClientReply>(r => r.Status == ReplyStatus.Executed && r.Sequence == S(1));
        fixture.Status.PendingUpdates.Should().Be(0);
    }

    [Test]
    public void Update_timer_reforwards_a_pending_update_to_the_leader()
    {
        // §10.2 Update_Timer expires: the origin re-sends Pending_Updates[client] to the leader (TR Fig. 12 B), until it executes.
        var fixture = NonLeaderOfView1(configure: o => o.UpdateRetransmitTicks = 20);
        fixture.Submit(U(1, 1));
        var forwarded = fixture.MessagesOf<ClientUpdateForward>().Single().Updates[0];
        fixture.Clear();

        fixture.Tick(19);
        fixture.MessagesOf<ClientUpdateForward>().Should().BeEmpty();
        fixture.Tick(20 / 4);
        fixture.SentOf<ClientUpdateForward>().Should().ContainSingle().Which.To.Should().Be(R(1));

        fixture.Deliver(Proposal(1, 1, 1, forwarded));
        fixture.Clear();
        fixture.Tick(60);
        fixture.MessagesOf<ClientUpdateForward>().Should().BeEmpty("the update executed, so its timer is cancelled");
    }

    [Test]
    public void Update_timer_at_the_leader_reenqueues_a_pending_update_the_full_queue_refused()
    {
        // §10.2 / TR Fig. 12 B at a leader: a local pending update that could not be queued is queued again later (queue bound, §14).
        var fixture = LeaderOfView1(configure: o =>
        {
            o.MaxUpdateQueueLength = 1;
            o.UpdateRetransmitTicks = 20;
        });
        fixture.Replica.Submit(U(1, 1));
        fixture.Replica.Submit(U(2, 1));
        fixture.Counters.Dropped(DropReason.QueueFull).Should().Be(1);
        fixture.Flush();
        fixture.MessagesOf<Proposal>().SelectMany(p => p.Updates).Select(u => u.ToString()).Should().Equal("c1#1");

        fixture.Tick(25);

        fixture.MessagesOf<Proposal>().SelectMany(p => p.Updates).Select(u => u.ToString()).Should().Equal("c1#1", "c2#1");
    }

    [Test]
    public void Enqueue_refuses_an_update_already_enqueued_in_this_view()
    {
        // §10.3 Enqueue_Update: refuse U if U.timestamp ≤ Last_Enqueued[client] (TR Fig. 13 A).
        var fixture = LeaderOfView1();
        var update = U(5, 1, origin: 0);

        fixture.Replica.Step(new ClientUpdateForward(R(0), [update]));
        fixture.Replica.Step(new ClientUpdateForward(R(2), [update]));

        fixture.Status.UpdateQueueLength.Should().Be(1);
        fixture.Flush();
        fixture.MessagesOf<Proposal>().SelectMany(p => p.Updates).Select(u => u.ToString()).Should().Equal("c5#1");

        fixture.Deliver(new ClientUpdateForward(R(0), [update]));
        fixture.MessagesOf<Proposal>().Should().ContainSingle("the bound update is not enqueued again in this view");
    }

    [Test]
    public void Enqueue_refuses_an_update_already_executed()
    {
        // §10.3 Enqueue_Update: refuse U if U.timestamp ≤ Last_Executed[client] (TR Fig. 13 A) — here an update the leader
        // never enqueued itself but learned executed, so only the executed check can refuse it.
        var fixture = LeaderOfView1();
        fixture.Deliver(Ordered(0, 1, U(5, 2, origin: 0)));
        fixture.Executor.ExecutedNames.Should().Equal("c5#2@1");

        fixture.Replica.Step(new ClientUpdateForward(R(2), [U(5, 2, origin: 2)]));
        fixture.Replica.Step(new ClientUpdateForward(R(2), [U(5, 1, origin: 2)]));

        fixture.Status.UpdateQueueLength.Should().Be(0);
        fixture.Replica.Step(new ClientUpdateForward(R(2), [U(5, 3, origin: 2)]));
        fixture.Status.UpdateQueueLength.Should().Be(1, "a newer update of the same client is taken");
    }

    [Test]
    public void Forwarded_update_is_dropped_by_a_replica_that_is_not_the_regular_leader()
    {
        // §10.2: only a REG_LEADER takes non-local updates; elsewhere they are dropped and the origin forwards again later.
        var fixture = NonLeaderOfView1();

        fixture.Deliver(new ClientUpdateForward(R(2), [U(5, 1, origin: 2)]));

        fixture.Counters.Dropped(DropReason.WrongState).Should().Be(1);
        fixture.Status.UpdateQueueLength.Should().Be(0);
        fixture.Sent.Should().BeEmpty();
    }

    [Test]
    public void New_leader_enqueues_unbound_pending_updates_but_not_bound_ones()
    {
        // §10.4 / G12: on becoming leader the queue is rebuilt from unbound local pending updates; a pending update already
        // bound to a slot is only re-proposed there, never bound a second time.
        var recovered = new PersistentState
        {
            LastInstalled = V(3),
            AcceptedProposals = [Proposal(0, 3, 1, U(2, 1, origin: 1))],
            PendingUpdates = [U(1, 1, origin: 1), U(2, 1, origin: 1)],
        };
        var fixture = new ReplicaFixture(1, recovered: recovered);

        fixture.BecomeLeader(V(4));
        fixture.Flush();

        fixture.MessagesOf<Proposal>().SelectMany(p => p.Updates).Select(u => u.ToString()).Should().Equal("c2#1", "c1#1");
        fixture.MessagesOf<Proposal>().Should().OnlyContain(p => p.View == V(4));
    }

    [Test]
    public void Queued_forwarded_updates_do_not_survive_a_view_change()
    {
        // §10.5 case 4 with G12 (departure: as GO, the queue is cleared): a non-local update queued at a leader that loses its
        // view is not proposed when it leads again; its origin forwards it again instead.
        var fixture = LeaderOfView1(configure: o => o.ProgressTimeoutTicks = 20);
        fixture.Replica.Step(new ClientUpdateForward(R(0), [U(5, 1, origin: 0)]));
        fixture.Status.UpdateQueueLength.Should().Be(1);

        for (var tick = 0; tick < 40 && fixture.Status.State == ReplicaState.RegularLeader; tick++)
        {
            fixture.Replica.Tick();
        }

        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);
        fixture.Flush();
        fixture.Deliver(new ViewChange(R(0), V(4)));
        fixture.Deliver(new PrepareOk(R(0), V(4), 0, 1, []));
        fixture.Status.State.Should().Be(ReplicaState.RegularLeader);

        fixture.Status.UpdateQueueLength.Should().Be(0);
        fixture.MessagesOf<Proposal>().SelectMany(p => p.Updates).Should().NotContain(u => u.ClientId == new ClientId(5));
    }

    [Test]
    public void Ordered_duplicate_of_an_executed_update_is_consumed_without_executing()
    {
        // G12 safety net (§10.6): if U.timestamp ≤ Last_Executed[client] at execution, the slot is consumed but U is not applied again.
        var fixture = NonLeaderOfView1();

        fixture.Deliver(Proposal(1, 1, 1, U(1, 1, origin: 2), U(1, 1, origin: 2)));

        fixture.Status.LocalAru.Should().Be(S(2));
        fixture.Executor.ExecutedNames.Should().Equal("c1#1@1");
        fixture.Counters.DuplicatesSuppressed.Should().Be(1);
        fixture.OrderedSlots.Select(s => s.Sequence.Value).Should().Equal(1, 2);
    }

    [Test]
    public void Resubmitted_executed_update_is_answered_from_the_client_table()
    {
        // G13 (§10.7): any replica answers an update that already executed from its client table, and does not forward it.
        var fixture = NonLeaderOfView1();
        fixture.Deliver(Proposal(1, 1, 1, U(1, 1, origin: 2)));
        fixture.Clear();

        fixture.Submit(U(1, 1)).Should().Be(SubmitStatus.AlreadyExecuted);

        var reply = fixture.Replies.Should().ContainSingle().Subject;
        reply.Should().Match<ClientReply>(r => r.ClientId == new ClientId(1) && r.Timestamp == 1 && r.Sequence == S(1) && r.Status == ReplyStatus.Executed);
        reply.Result.ToArray().Should().Equal(TestExecutor.Reply(1));
        fixture.Sent.Should().BeEmpty();
        fixture.PendingUpdates.Should().BeEmpty();
        fixture.Counters.RepliesFromClientTable.Should().Be(1);
    }

    [Test]
    public void Submit_older_than_the_clients_last_executed_or_pending_update_is_stale()
    {
        // §10.3 / G13: an update older than the client's last executed (or pending) one will never be answered: Stale.
        var fixture = NonLeaderOfView1();
        fixture.Deliver(Proposal(1, 1, 1, U(1, 2, origin: 2)));
        fixture.Submit(U(2, 3));
        fixture.Clear();

        fixture.Submit(U(1, 1)).Should().Be(SubmitStatus.Stale);
        fixture.Submit(U(2, 2)).Should().Be(SubmitStatus.Stale);

        fixture.Batches.Should().BeEmpty();
        fixture.Status.PendingUpdates.Should().Be(1);
    }

    [Test]
    public void Submit_beyond_MaxPendingUpdates_is_refused_as_overloaded()
    {
        // Limits (STYLE.md, §10.1): Pending_Updates is bounded; a new client beyond the bound gets Overloaded.
        var fixture = NonLeaderOfView1(configure: o => o.MaxPendingUpdates = 2);
        fixture.Submit(U(1, 1)).Should().Be(SubmitStatus.Accepted);
        fixture.Submit(U(2, 1)).Should().Be(SubmitStatus.Accepted);
        fixture.Clear();

        fixture.Submit(U(3, 1)).Should().Be(SubmitStatus.Overloaded);
        fixture.Batches.Should().BeEmpty();

        fixture.Submit(U(1, 2)).Should().Be(SubmitStatus.Accepted, "a client with a pending update replaces it and needs no new room");
    }

    [Test]
    public void Submit_with_a_payload_above_MaxUpdateBytes_is_refused_as_too_large()
    {
        // DESIGN.md §4: payloads above MaxUpdateBytes are refused at Submit.
        var fixture = NonLeaderOfView1(configure: o => o.MaxUpdateBytes = 10);

        fixture.Submit(U(1, 1, payloadBytes: 11)).Should().Be(SubmitStatus.TooLarge);
        fixture.Batches.Should().BeEmpty();

        fixture.Submit(U(1, 1, payloadBytes: 10)).Should().Be(SubmitStatus.Accepted);
    }

    [Test]
    public void Submit_with_a_newer_timestamp_supersedes_the_pending_update()
    {
        // §10.1 (one outstanding update per client): a newer update replaces the pending one, whose client is told Superseded.
        var fixture = NonLeaderOfView1();
        fixture.Submit(U(1, 1));
        fixture.Clear();

        fixture.Submit(U(1, 2)).Should().Be(SubmitStatus.Accepted);

        fixture.Replies.Should().ContainSingle().Which.Should().Match<ClientReply>(r => r.Timestamp == 1 && r.Status == ReplyStatus.Superseded && r.Sequence == SequenceNumber.None);
        fixture.PendingUpdates.Should().ContainSingle().Which.Timestamp.Should().Be(2);
        fixture.Status.PendingUpdates.Should().Be(1);
    }
}
