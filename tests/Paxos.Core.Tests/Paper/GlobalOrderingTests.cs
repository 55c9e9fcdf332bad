using Paxos.Messages;
using Paxos.Protocol;

using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>PROTOCOL.md §9 (TR §5.5, Figs. 10–11): proposing, accepting, ordering and executing, with G6–G9, G11 and G23.</summary>
public class GlobalOrderingTests
{
    /// <summary>Replica 1 restarted after installing view 3, and now leads view 4 with replica 0's report.</summary>
    private static ReplicaFixture LeaderOfView4(params DataListEntry[] reported)
    {
        var fixture = new ReplicaFixture(1, recovered: new PersistentState { LastInstalled = V(3) });
        fixture.Clear();
        fixture.BecomeLeader(V(4), reported);
        return fixture;
    }

    [Test]
    public void Constrained_slot_is_reproposed_with_its_update_in_the_new_view()
    {
        // §9.1 Send_Proposal step 3: a slot holding a Proposal is re-proposed with that update, in the leader's view (TR Fig. 11 A6–A7).
        var fixture = LeaderOfView4(ProposalEntry(1, 2, U(5, 1, origin: 0)));

        var (to, proposal) = fixture.SentOf<Proposal>().Should().ContainSingle().Subject;
        to.IsNone.Should().BeTrue();
        proposal.View.Should().Be(V(4));
        proposal.FirstSequence.Should().Be(S(1));
        proposal.Updates.Select(u => u.ToString()).Should().Equal("c5#1");
        fixture.AcceptedProposals.Should().ContainSingle().Which.Should().BeSameAs(proposal, "the leader's Proposal is its own durable acceptance");
    }

    [Test]
    public void Holes_below_a_constrained_slot_are_filled_with_no_ops()
    {
        // G7 (§9.1): free slots between Local_Aru and the highest constrained slot are proposed as no-ops, as PSB-C does.
        var fixture = LeaderOfView4(ProposalEntry(3, 2, U(5, 1, origin: 0)));

        var proposal = fixture.MessagesOf<Proposal>().Should().ContainSingle().Subject;
        proposal.FirstSequence.Should().Be(S(1));
        proposal.Updates.Select(u => u.ToString()).Should().Equal("noop", "noop", "c5#1");
        fixture.Counters.HoleNoOpsProposed.Should().Be(2);
    }

    [Test]
    public void Queued_updates_are_bound_several_per_Proposal_up_to_MaxBatchUpdates_within_the_window()
    {
        // §9.1 with aggregation (TR §7 / PSB-C) and the window (§14): at most MaxBatchUpdates per Proposal, at most WindowSlots outstanding.
        var fixture = LeaderOfView1(configure: o =>
        {
            o.MaxBatchUpdates = 4;
            o.WindowSlots = 8;
        });
        for (var client = 1; client <= 10; client++)
        {
            fixture.Replica.Submit(U(client, 1)).Should().Be(SubmitStatus.Accepted);
        }

        fixture.Flush();

        fixture.MessagesOf<Proposal>().Select(p => $"{p.FirstSequence}..{p.LastSequence}").Should().Equal("1..4", "5..8");
        fixture.Status.LastProposed.Should().Be(S(8));
        fixture.Status.UpdateQueueLength.Should().Be(2, "the window is full");

        fixture.Deliver(Accept(0, 1, 1, 4));
        fixture.Status.LocalAru.Should().Be(S(4));
        fixture.Flush();

        fixture.MessagesOf<Proposal>().Select(p => $"{p.FirstSequence}..{p.LastSequence}").Should().Equal("1..4", "5..8", "9..10");
    }

    [Test]
    public void Queued_updates_are_bound_only_as_many_per_Proposal_as_fit_MaxMessageBytes()
    {
        // §9.1 with aggregation: a Proposal is never larger than MaxMessageBytes (DESIGN.md §4: no IP fragmentation).
        var fixture = LeaderOfView1(configure: o =>
        {
            o.MaxMessageBytes = 512;
            o.MaxUpdateBytes = 400;
        });
        for (var client = 1; client <= 5; client++)
        {
            fixture.Replica.Submit(U(client, 1, payloadBytes: 200));
        }

        fixture.Flush();

        var proposals = fixture.MessagesOf<Proposal>();
        proposals.Select(p => p.Updates.Count).Should().Equal(2, 2, 1);
        var codec = new MessageCodec(new MessageCodecOptions { ClusterSize = 3, MaxMessageBytes = 512 });
        proposals.Should().OnlyContain(p => codec.GetEncodedLength(p) <= codec.MaxFrameBytes);
    }

    [Test]
    public void Non_leader_accepts_a_Proposal_persists_it_and_sends_one_Accept_range_to_all()
    {
        // §9.2: apply, sync the Proposal, then send Accept to all servers (TR Fig. 10 B; departure: one Accept per range).
        // Five replicas: a quorum of three, so another non-leader needs this Accept to order.
        var fixture = NonLeaderOfView1(clusterSize: 5);
        var proposal = Proposal(1, 1, 1, U(1, 1, origin: 1), U(2, 1, origin: 1), U(3, 1, origin: 1));

        var batch = fixture.Deliver(proposal);

        batch.AcceptedProposals.Should().ContainSingle().Which.Should().BeSameAs(proposal);
        batch.RequiresSync.Should().BeTrue();
        var (to, accept) = batch.Messages.Should().ContainSingle().Subject;
        to.IsNone.Should().BeTrue("Accepts go to all servers, not only the leader");
        accept.ToString().Should().Be("Accept v=1 seq=1..3");
    }

    [Test]
    public void In_a_cluster_of_three_a_non_leader_sends_its_Accept_to_the_leader_only()
    {
        // Departure: with a quorum of two and Proposals that count as the leader's acceptance, the other non-leader
        // orders with the Proposal and its own durable acceptance; only the leader needs this Accept.
        var fixture = NonLeaderOfView1();

        var batch = fixture.Deliver(Proposal(1, 1, 1, U(1, 1, origin: 1), U(2, 1, origin: 1)));

        var (to, accept) = batch.Messages.Should().ContainSingle().Subject;
        to.Should().Be(R(1), "the leader of view 1 is replica 1");
        accept.ToString().Should().Be("Accept v=1 seq=1..2");
        fixture.Status.LocalAru.Should().Be(S(2), "the Proposal and its own durable acceptance are a quorum of two");
    }

    [Test]
    public void In_a_cluster_of_three_Accepts_go_to_all_when_Proposals_do_not_count_as_the_leaders_acceptance()
    {
        // LeaderSendsAccept: the leader's acceptance arrives as an Accept of its own, once its write is durable; the
        // other non-leader may order first with this replica's Accept, so it gets one.
        var fixture = NonLeaderOfView1();

        var batch = fixture.Deliver(new Proposal(R(1), V(1), S(1), [U(1, 1, origin: 1)], impliesLeaderAcceptance: false));

        var (to, accept) = batch.Messages.Should().ContainSingle().Subject;
        to.IsNone.Should().BeTrue();
        accept.ToString().Should().Be("Accept v=1 seq=1");
    }

    [Test]
    public void Accepts_of_Proposals_taken_in_one_batch_are_aggregated_into_one_range()
    {
        // §18.5 aggregation: one Accept covers the contiguous Proposals accepted under one fsync.
        var fixture = NonLeaderOfView1();

        fixture.Replica.Step(Proposal(1, 1, 1, U(1, 1, origin: 1), U(2, 1, origin: 1)));
        fixture.Replica.Step(Proposal(1, 1, 3, U(3, 1, origin: 1)));
        var batch = fixture.Flush();

        batch.AcceptedProposals.Should().HaveCount(2);
        batch.Messages.Select(m => m.Message.ToString()).Should().Equal("Accept v=1 seq=1..3");
    }

    [Test]
    public void Retransmitted_Proposal_is_answered_again()
    {
        // §9.2 / §12: every delivered copy is answered, even once ordered — Accept retransmission is receiver-driven.
        var fixture = NonLeaderOfView1();
        var proposal = Proposal(1, 1, 1, U(1, 1, origin: 1));
        fixture.Deliver(proposal);
        fixture.Status.LocalAru.Should().Be(S(1));
        fixture.Clear();

        var batch = fixture.Deliver(proposal);

        batch.AcceptedProposals.Should().BeEmpty("the Proposal is already durable");
        batch.Messages.Select(m => m.Message.ToString()).Should().Equal("Accept v=1 seq=1");
        fixture.Executor.Executed.Should().BeEmpty("it executed once, before");
    }

    [Test]
    public void Non_leader_own_acceptance_counts_only_once_persisted()
    {
        // G9 + durability (§9.4): the leader's Proposal and this server's acceptance are 2 of 3, but the acceptance counts only after AcknowledgePersisted.
        var fixture = NonLeaderOfView1();
        fixture.AutoAcknowledge = false;

        fixture.Deliver(Proposal(1, 1, 1, U(1, 1, origin: 1)));
        fixture.Status.LocalAru.Should().Be(S(0));
        fixture.Executor.Executed.Should().BeEmpty();

        fixture.AcknowledgeAll();

        fixture.Status.LocalAru.Should().Be(S(1));
        fixture.Executor.ExecutedNames.Should().Equal("c1#1@1");
    }

    [Test]
    public void Leader_own_Proposal_counts_as_its_acceptance_only_once_persisted()
    {
        // G9 + durability (§9.4): at the leader, its Proposal and one Accept are a majority of 3 — once the Proposal is durable.
        var fixture = LeaderOfView1();
        fixture.AutoAcknowledge = false;
        fixture.Submit(U(1, 1));
        fixture.MessagesOf<Proposal>().Should().ContainSingle();

        fixture.Deliver(Accept(0, 1, 1));
        fixture.Status.LocalAru.Should().Be(S(0), "the leader's own write is not yet acknowledged");

        fixture.AcknowledgeAll();

        fixture.Status.LocalAru.Should().Be(S(1));
        fixture.Executor.ExecutedNames.Should().Equal("c1#1@1");
    }

    [Test]
    public void Slot_is_ordered_at_a_majority_of_distinct_acceptors()
    {
        // §9.4 [REC]: ordered once ⌊N/2⌋+1 distinct servers accepted (view, seq): the leader, this server, and Accept senders.
        var fixture = NonLeaderOfView1(clusterSize: 5);

        fixture.Deliver(Proposal(1, 1, 1, U(1, 1, origin: 1)));
        fixture.Status.LocalAru.Should().Be(S(0), "leader 1 and replica 0 are 2 of the 3 needed");

        fixture.Deliver(Accept(3, 1, 1));

        fixture.Status.LocalAru.Should().Be(S(1));
        fixture.Counters.SlotsOrderedByAccepts.Should().Be(1);
    }

    [Test]
    public void Execution_follows_Local_Aru_never_the_moment_of_ordering()
    {
        // G11 (§9.5): ordering may happen out of order; execution only as Local_Aru advances, in sequence order.
        var fixture = NonLeaderOfView1();

        fixture.Deliver(Proposal(1, 1, 2, U(2, 1, origin: 1)));
        fixture.Counters.SlotsOrderedByAccepts.Should().Be(1, "slot 2 is ordered");
        fixture.Executor.Executed.Should().BeEmpty("slot 1 is not ordered yet");
        fixture.Status.LocalAru.Should().Be(S(0));

        fixture.Deliver(Proposal(1, 1, 1, U(1, 1, origin: 1)));

        fixture.Executor.ExecutedNames.Should().Equal("c1#1@1", "c2#1@2");
        fixture.OrderedSlots.Select(s => s.Sequence.Value).Should().Equal(1, 2);
    }

    [Test]
    public void Proposal_beyond_twice_the_window_is_dropped()
    {
        // §14 receive window: a non-leader accepts a Proposal only within 2 × WindowSlots of Local_Aru; beyond it, it catches up instead.
        var fixture = NonLeaderOfView1(configure: o =>
        {
            o.MaxBatchUpdates = 4;
            o.WindowSlots = 4;
        });

        fixture.Deliver(Proposal(1, 1, 9, U(9, 1, origin: 1)));
        fixture.Counters.Dropped(DropReason.OutsideWindow).Should().Be(1);
        fixture.AcceptedProposals.Should().BeEmpty();
        fixture.MessagesOf<Accept>().Should().BeEmpty();

        fixture.Deliver(Proposal(1, 1, 8, U(8, 1, origin: 1)));
        fixture.AcceptedProposals.Should().ContainSingle();
    }

    [Test]
    public void Proposal_is_retransmitted_only_to_replicas_that_have_not_accepted_it()
    {
        // §12 Proposal: re-sent after ProposalRetransmitTicks until ordered, to the servers not known to have accepted it.
        var fixture = LeaderOfView1(clusterSize: 5, configure: o => o.ProposalRetransmitTicks = 5);
        fixture.Submit(U(1, 1));
        fixture.Deliver(Accept(3, 1, 1));
        fixture.Status.LocalAru.Should().Be(S(0), "leader 1 and replica 3 are 2 of 3");
        fixture.Clear();

        fixture.Tick(4);
        fixture.MessagesOf<Proposal>().Should().BeEmpty();
        fixture.Tick();

        fixture.SentOf<Proposal>().Select(p => p.To).Should().Equal(R(0), R(2), R(4));
        fixture.Counters.ProposalsRetransmitted.Should().Be(1);

        fixture.Deliver(Accept(4, 1, 1));
        fixture.Status.LocalAru.Should().Be(S(1));
        fixture.Clear();
        fixture.Tick(20);
        fixture.MessagesOf<Proposal>().Where(p => p.Updates.Any(u => !u.IsNoOp)).Should().BeEmpty("an ordered Proposal is not retransmitted");
    }

    [Test]
    public void Proposal_retransmission_stops_when_the_leader_leaves_its_view()
    {
        // §12 (PSB-C): a leader whose Progress_Timer expired cancels its pending Proposal retransmissions.
        var fixture = LeaderOfView1(configure: o =>
        {
            o.ProgressTimeoutTicks = 20;
            o.ProposalRetransmitTicks = 5;
        });
        fixture.Submit(U(1, 1));
        fixture.TicksUntil(() => fixture.Status.State == ReplicaState.LeaderElection, 1000).Should().BePositive();
        fixture.Counters.ProposalsRetransmitted.Should().BePositive("the Proposal was retransmitted while the view lasted");
        fixture.Clear();

        fixture.Tick(50);

        fixture.MessagesOf<Proposal>().Should().BeEmpty();
    }

    [Test]
    public void Idle_leader_proposes_a_no_op_heartbeat()
    {
        // G6 (§6.5): a leader idle for LeaderHeartbeatTicks orders a no-op, so that nobody suspects a healthy idle leader.
        var fixture = LeaderOfView1(configure: o => o.LeaderHeartbeatTicks = 5);

        fixture.Tick(4);
        fixture.MessagesOf<Proposal>().Should().BeEmpty();
        fixture.Tick();

        var proposal = fixture.MessagesOf<Proposal>().Should().ContainSingle().Subject;
        proposal.Updates.Should().ContainSingle().Which.IsNoOp.Should().BeTrue();
        proposal.FirstSequence.Should().Be(S(1));
        fixture.Counters.HeartbeatNoOpsProposed.Should().Be(1);
    }

    [Test]
    public void A_leader_prepared_in_the_tick_its_old_heartbeat_was_due_proposes_the_constrained_value_not_a_no_op()
    {
        // With one replica, the Progress_Timer's expiry elects and prepares the next view inside one tick. The old
        // view's heartbeat, due in that same tick, must not then order a no-op into the slot the Prepare phase
        // constrained (Last_Proposed is back at Local_Aru): the update bound there would be lost to its client, which
        // the replica already counts as enqueued in the new view.
        var fixture = new ReplicaFixture(0, clusterSize: 1, configure: o =>
        {
            o.ProgressTimeoutTicks = 4;
            o.LeaderHeartbeatTicks = 1;
        });
        fixture.AutoAcknowledge = false; // A slow disk: the view-1 Proposal's write is not durable yet.
        fixture.Clear();
        fixture.Replica.Submit(U(1, 1));
        fixture.Flush().AcceptedProposals.Should().ContainSingle().Which.FirstSequence.Should().Be(S(1));

        fixture.TicksUntil(() => fixture.Status.LastInstalled == V(2), 50).Should().BePositive("the progress timer expires and the replica prepares view 2");
        fixture.Status.State.Should().Be(ReplicaState.RegularLeader);
        var proposals = fixture.Batches.SelectMany(b => b.AcceptedProposals).Where(p => p.View == V(2)).ToList();
        proposals.Should().NotBeEmpty();
        proposals[0].FirstSequence.Should().Be(S(1));
        proposals[0].Updates[0].SameAs(U(1, 1).WithOrigin(R(0))).Should().BeTrue($"slot 1 is constrained to c1#1, not {proposals[0].Updates[0]}");
        fixture.AcknowledgeAll();
        fixture.Executor.ExecutedNames.Should().StartWith("c1#1@1");
    }

    [Test]
    public void Ordered_heartbeat_counts_as_progress()
    {
        // G6 (§6.5): the ordered no-op restarts the Progress_Timer, so an idle leader with a live majority keeps its view.
        static void Timers(PaxosOptions o)
        {
            o.ProgressTimeoutTicks = 20;
            o.LeaderHeartbeatTicks = 5;
        }

        var idle = LeaderOfView1(configure: Timers);
        idle.TicksUntil(() => idle.Status.State == ReplicaState.LeaderElection, 1000)
            .Should().Be(40, "with no Accepts the heartbeats are never ordered and the doubled timer expires");

        var fixture = LeaderOfView1(configure: Timers);
        for (var tick = 0; tick < 200; tick++)
        {
            fixture.Tick();
            foreach (var proposal in fixture.LastBatch?.Messages.Select(m => m.Message).OfType<Proposal>() ?? [])
            {
                fixture.Deliver(Accept(0, 1, proposal.FirstSequence.Value, proposal.LastSequence.Value));
            }

            fixture.Clear();
        }

        fixture.Status.State.Should().Be(ReplicaState.RegularLeader);
        fixture.Counters.NoOpsExecuted.Should().BeGreaterThan(30);
        fixture.Executor.History.Should().BeEmpty("no-ops never reach the executor");
    }

    [Test]
    public void Ordering_in_the_installed_view_refreshes_the_progress_timer()
    {
        // §9.5 step 3: executing an update ordered in the installed view restarts the Progress_Timer (TR Fig. 10 D10, G23).
        var fixture = NonLeaderOfView1(configure: o => o.ProgressTimeoutTicks = 20);

        for (var slot = 1; slot <= 12; slot++)
        {
            fixture.Tick(5);
            fixture.Deliver(Proposal(1, 1, slot, U(slot, 1, origin: 1)));
        }

        fixture.Status.LocalAru.Should().Be(S(12));
        fixture.Status.State.Should().Be(ReplicaState.RegularNonLeader, "60 ticks passed, but never 20 without progress");
    }

    [Test]
    public void Ordering_learned_by_catch_up_does_not_refresh_the_progress_timer()
    {
        // G23 (§6.5): slots learned ordered through reconciliation are not progress of the installed view.
        var fixture = NonLeaderOfView1(configure: o => o.ProgressTimeoutTicks = 20);

        var ticks = 0;
        for (var slot = 1; slot <= 12 && fixture.Status.State == ReplicaState.RegularNonLeader; slot++)
        {
            fixture.Tick(5);
            ticks += 5;
            fixture.Deliver(Ordered(2, slot, U(slot, 1, origin: 2)));
        }

        ticks.Should().Be(20, "the timer armed at install expired on schedule");
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);
        fixture.Status.LocalAru.Should().BeGreaterThanOrEqualTo(S(3), "the catch-up itself was applied and executed");
    }

    [Test]
    public void A_Proposal_that_binds_an_ordered_slot_to_another_update_gets_no_Accept()
    {
        // Hardening: a replica that learned slot 1's choice (here by catch-up) never acknowledges an older view's
        // leader binding another update there; the same update is acknowledged as before.
        var fixture = NonLeaderOfView1(id: 0, clusterSize: 5);
        fixture.Deliver(Ordered(2, 1, U(2, 1)));
        fixture.Clear();

        fixture.Deliver(Proposal(1, 1, 1, U(1, 1)));

        fixture.MessagesOf<Accept>().Should().BeEmpty();
        fixture.AcceptedProposals.Should().BeEmpty();
        fixture.Counters.Dropped(DropReason.ConflictingOrder).Should().Be(1);

        fixture.Deliver(Proposal(1, 1, 1, U(2, 1)));
        fixture.MessagesOf<Accept>().Should().ContainSingle();
    }
}
