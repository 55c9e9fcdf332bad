using Paxos.Messages;
using Paxos.Protocol;

using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>PROTOCOL.md §5 (TR Fig. 5): how a message that passed the conflict checks is applied to the data structures.</summary>
public class UpdateRuleTests
{
    [Test]
    public void ViewChange_first_vote_per_server_wins()
    {
        // §5 View_Change: if VC[server] is already set the vote is ignored, so a repeated vote never counts twice (TR Fig. 5 A).
        var fixture = new ReplicaFixture(1, clusterSize: 5);

        fixture.Deliver(new ViewChange(R(0), V(1)));
        fixture.Deliver(new ViewChange(R(0), V(1)));
        fixture.Deliver(new ViewChange(R(0), V(1)));

        fixture.Counters.ViewsPreinstalled.Should().Be(0, "votes from 1 and 0 are 2 of the 3 needed, however often 0 repeats");
        fixture.Status.LastInstalled.Should().Be(ViewNumber.None);

        fixture.Deliver(new ViewChange(R(2), V(1)));

        fixture.Counters.ViewsPreinstalled.Should().Be(1);
        fixture.Status.LastInstalled.Should().Be(V(1), "replica 1 leads view 1 and starts its Prepare phase");
    }

    [Test]
    public void ViewChange_votes_are_cleared_when_a_new_attempt_starts()
    {
        // §5/§6.2 View_Change: VC[] holds votes for the current attempt only; Shift_to_Leader_Election clears it (TR Fig. 6 E1).
        var fixture = new ReplicaFixture(0, clusterSize: 5);
        fixture.Deliver(new ViewChange(R(2), V(1)));

        fixture.Deliver(new ViewChange(R(3), V(2)));

        fixture.Status.LastAttempted.Should().Be(V(2));
        fixture.Counters.ViewsPreinstalled.Should().Be(0, "replica 2's vote was for view 1 and must not count for view 2");

        fixture.Deliver(new ViewChange(R(4), V(2)));

        fixture.Counters.ViewsPreinstalled.Should().Be(1, "0, 3 and 4 voted for view 2");
    }

    [Test]
    public void PrepareOk_duplicate_is_ignored()
    {
        // §5 Prepare_OK: if Prepare_OKs[server] is already set the message is ignored (TR Fig. 5 C1).
        var fixture = new ReplicaFixture(1, clusterSize: 5);
        fixture.Deliver(new ViewChange(R(0), V(1)), new ViewChange(R(2), V(1)));
        fixture.Status.LastInstalled.Should().Be(V(1));

        fixture.Deliver(new PrepareOk(R(0), V(1), 0, 1, []));
        fixture.Deliver(new PrepareOk(R(0), V(1), 0, 1, []));

        fixture.Counters.Dropped(DropReason.Duplicate).Should().Be(1);
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection, "1 and 0 are 2 of the 3 Prepare_OKs needed");

        fixture.Deliver(new PrepareOk(R(2), V(1), 0, 1, []));

        fixture.Status.State.Should().Be(ReplicaState.RegularLeader);
    }

    [Test]
    public void Proposal_for_an_ordered_slot_is_ignored()
    {
        // §5 Proposal rule 1: if the slot already holds a Globally_Ordered_Update, the Proposal is ignored (TR Fig. 5 D1).
        var fixture = NonLeaderOfView1();
        var ordered = U(7, 1, origin: 2);
        fixture.Deliver(Ordered(2, 2, ordered));
        fixture.Status.LocalAru.Should().Be(S(0), "slot 1 is still unknown");

        var batch = fixture.Deliver(Proposal(1, 1, 2, U(8, 1, origin: 1)));

        batch.AcceptedProposals.Should().BeEmpty("nothing in the slot changed");
        fixture.Deliver(Proposal(1, 1, 1, U(9, 1, origin: 1)));
        fixture.Executor.ExecutedNames.Should().Equal("c9#1@1", "c7#1@2");
    }

    [Test]
    public void Proposal_of_a_higher_view_replaces_the_slot_and_clears_its_accepts()
    {
        // §5 Proposal rule 2: P.view > P′.view replaces P′ and clears the slot's Accepts (TR Fig. 5 D2).
        // Replica 0 accepted slot 1 = c1#1 in view 1 (its leader 1 and itself: a majority of 3), then installed view 2.
        var recovered = new PersistentState
        {
            LastInstalled = V(1),
            AcceptedProposals = [Proposal(1, 1, 1, U(1, 1, origin: 1))],
        };
        var fixture = new ReplicaFixture(0, recovered: recovered);
        fixture.Deliver(new Prepare(R(2), V(2), S(0)));
        fixture.AutoAcknowledge = false;
        fixture.Clear();

        fixture.Deliver(Proposal(2, 2, 1, U(2, 1, origin: 2)));

        fixture.AcceptedProposals.Should().ContainSingle().Which.View.Should().Be(V(2));
        fixture.Executor.Executed.Should().BeEmpty("the view-1 accepts were cleared: only leader 2 has accepted the view-2 Proposal so far");

        fixture.AcknowledgeAll();

        fixture.Executor.ExecutedNames.Should().Equal("c2#1@1");
    }

    [Test]
    public void Proposal_of_the_same_view_keeps_the_stored_one()
    {
        // §5 Proposal rule 3: a slot holding a Proposal from the same or a higher view keeps it (TR Fig. 5 D3).
        var fixture = NonLeaderOfView1(clusterSize: 5);
        fixture.Deliver(Proposal(1, 1, 1, U(1, 1, origin: 1)));

        var batch = fixture.Deliver(Proposal(1, 1, 1, U(2, 1, origin: 1)));
        batch.AcceptedProposals.Should().BeEmpty();
        fixture.Deliver(Accept(2, 1, 1));

        fixture.Executor.ExecutedNames.Should().Equal("c1#1@1");
    }

    [Test]
    public void Proposal_of_a_lower_view_does_not_replace_a_higher_one_in_a_data_list()
    {
        // §5 Proposal rule 3, applied to data lists: a reported lower-view Proposal leaves a higher-view one in place (TR Fig. 5 D3).
        // Replica 1 accepted slot 1 = c1#1 in view 3 (leader 0), restarts, and leads view 4.
        var recovered = new PersistentState
        {
            LastInstalled = V(3),
            AcceptedProposals = [Proposal(0, 3, 1, U(1, 1, origin: 0))],
        };
        var fixture = new ReplicaFixture(1, recovered: recovered);

        fixture.BecomeLeader(V(4), ProposalEntry(1, 2, U(2, 1, origin: 2)));
        fixture.Flush();

        var proposal = fixture.MessagesOf<Proposal>().Should().ContainSingle().Subject;
        proposal.View.Should().Be(V(4));
        proposal.Updates.Should().ContainSingle().Which.ToString().Should().Be("c1#1");
    }

    [Test]
    public void Accept_from_a_server_already_counted_is_ignored()
    {
        // §5 Accept: ignored if Accepts[server] is already set, so one server never counts twice (TR Fig. 5 E).
        var fixture = NonLeaderOfView1(clusterSize: 5);
        fixture.AutoAcknowledge = false;
        fixture.Deliver(Proposal(1, 1, 1, U(1, 1, origin: 1)));

        fixture.Deliver(Accept(2, 1, 1));
        fixture.Deliver(Accept(2, 1, 1));

        fixture.Status.LocalAru.Should().Be(S(0), "leader 1 and replica 2 are 2 of the 3 needed");

        fixture.Deliver(Accept(3, 1, 1));

        fixture.Status.LocalAru.Should().Be(S(1));
    }

    [Test]
    public void Accept_for_an_ordered_slot_changes_nothing()
    {
        // §5 Accept: ignored if the slot is already ordered (TR Fig. 5 E).
        var fixture = NonLeaderOfView1();
        fixture.Deliver(Proposal(1, 1, 1, U(1, 1, origin: 1)));
        fixture.Executor.Executed.Should().HaveCount(1);

        fixture.Deliver(Accept(2, 1, 1));

        fixture.Executor.Executed.Should().HaveCount(1);
        fixture.Counters.SlotsOrderedByAccepts.Should().Be(1);
    }

    [Test]
    public void GloballyOrderedUpdate_is_never_replaced_and_a_conflicting_one_is_dropped()
    {
        // §5 Globally_Ordered_Update: stored only if the slot has none; an ordered binding is final (TR Fig. 5 F).
        var fixture = new ReplicaFixture(0);
        fixture.Deliver(Ordered(1, 2, U(1, 1, origin: 1)));

        fixture.Deliver(Ordered(2, 2, U(2, 1, origin: 2)));

        fixture.Counters.Dropped(DropReason.ConflictingOrder).Should().Be(1);
        fixture.Replica.IsFaulted.Should().BeFalse();

        fixture.Deliver(Ordered(2, 1, U(3, 1, origin: 2)));

        fixture.Executor.ExecutedNames.Should().Equal("c3#1@1", "c1#1@2");
    }
}
