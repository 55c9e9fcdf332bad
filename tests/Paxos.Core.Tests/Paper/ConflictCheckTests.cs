using Paxos.Messages;
using Paxos.Protocol;

using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>
/// PROTOCOL.md §4 (TR Fig. 4): the conflict checks every received message passes before anything else. Each
/// rule is tested twice: on the pure <see cref="ConflictChecks"/> function, and on a replica, through the drop
/// reason it counts and the state it leaves untouched.
/// </summary>
public class ConflictCheckTests
{
    private static readonly ReplicaId Self = R(0);
    private static readonly ReplicaId Peer = R(1);

    // ---- View_Change ----

    [Test]
    public void ViewChange_passes_when_in_leader_election_with_no_timer_and_a_higher_view()
    {
        // §4 View_Change: none of the drop conditions holds, so the vote is applied (TR Fig. 4 A).
        ConflictChecks.ViewChange(Self, ReplicaState.LeaderElection, false, V(1), new ViewChange(Peer, V(2)))
            .Should().Be(DropReason.None);
    }

    [Test]
    public void ViewChange_from_self_is_dropped()
    {
        // §4 View_Change: dropped when it comes from this server itself (TR Fig. 4 A1).
        ConflictChecks.ViewChange(Self, ReplicaState.LeaderElection, false, V(0), new ViewChange(Self, V(1)))
            .Should().Be(DropReason.FromSelf);

        var fixture = new ReplicaFixture(0);
        fixture.Deliver(new ViewChange(R(0), V(1)));
        fixture.Counters.Dropped(DropReason.FromSelf).Should().Be(1);
        fixture.Counters.ViewsPreinstalled.Should().Be(0, "a loopback copy of its own vote must not count twice");
    }

    [Test]
    public void ViewChange_outside_leader_election_is_dropped()
    {
        // §4 View_Change: dropped when State ≠ LEADER_ELECTION (TR Fig. 4 A2).
        ConflictChecks.ViewChange(Self, ReplicaState.RegularNonLeader, false, V(1), new ViewChange(Peer, V(2)))
            .Should().Be(DropReason.WrongState);
        ConflictChecks.ViewChange(Self, ReplicaState.RegularLeader, false, V(1), new ViewChange(Peer, V(2)))
            .Should().Be(DropReason.WrongState);

        var fixture = NonLeaderOfView1();
        fixture.Deliver(new ViewChange(R(2), V(2)));
        fixture.Counters.Dropped(DropReason.WrongState).Should().Be(1);
        fixture.Status.LastAttempted.Should().Be(V(1));
        fixture.Status.State.Should().Be(ReplicaState.RegularNonLeader);
    }

    [Test]
    public void ViewChange_is_dropped_while_the_progress_timer_runs()
    {
        // §4 View_Change: dropped while the Progress_Timer runs, i.e. after preinstall (TR Fig. 4 A3, §6.4).
        ConflictChecks.ViewChange(Self, ReplicaState.LeaderElection, true, V(0), new ViewChange(Peer, V(5)))
            .Should().Be(DropReason.ProgressTimerRunning);

        var fixture = new ReplicaFixture(0);
        fixture.Deliver(new ViewChange(R(1), V(1)));
        fixture.Counters.ViewsPreinstalled.Should().Be(1, "its own vote and replica 1's are a majority of 3");

        fixture.Deliver(new ViewChange(R(2), V(5)));

        fixture.Counters.Dropped(DropReason.ProgressTimerRunning).Should().Be(1);
        fixture.Status.LastAttempted.Should().Be(V(1));
    }

    [Test]
    public void ViewChange_for_a_view_not_above_Last_Installed_is_dropped()
    {
        // §4 View_Change: dropped when attempted ≤ Last_Installed (TR Fig. 4 A4).
        ConflictChecks.ViewChange(Self, ReplicaState.LeaderElection, false, V(3), new ViewChange(Peer, V(3)))
            .Should().Be(DropReason.StaleView);
        ConflictChecks.ViewChange(Self, ReplicaState.LeaderElection, false, V(3), new ViewChange(Peer, V(2)))
            .Should().Be(DropReason.StaleView);

        // Installed view 1, then the timer expired: in leader election for view 2, timer stopped.
        var fixture = NonLeaderOfView1(configure: o => o.ProgressTimeoutTicks = 10);
        fixture.Tick(10);
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);

        fixture.Deliver(new ViewChange(R(1), V(1)));

        fixture.Counters.Dropped(DropReason.StaleView).Should().Be(1);
    }

    // ---- VC_Proof ----

    [Test]
    public void VcProof_passes_in_leader_election()
    {
        // §4 VC_Proof: from another server while in LEADER_ELECTION, it is considered (TR Fig. 4 B).
        ConflictChecks.VcProof(Self, ReplicaState.LeaderElection, new VcProof(Peer, V(2))).Should().Be(DropReason.None);
    }

    [Test]
    public void VcProof_from_self_is_dropped()
    {
        // §4 VC_Proof: dropped when it comes from this server itself (TR Fig. 4 B1).
        ConflictChecks.VcProof(Self, ReplicaState.LeaderElection, new VcProof(Self, V(2))).Should().Be(DropReason.FromSelf);

        var fixture = new ReplicaFixture(0);
        fixture.Deliver(new VcProof(R(0), V(2)));
        fixture.Counters.Dropped(DropReason.FromSelf).Should().Be(1);
        fixture.Status.LastInstalled.Should().Be(ViewNumber.None);
    }

    [Test]
    public void VcProof_outside_leader_election_is_dropped()
    {
        // §4 VC_Proof: dropped when State ≠ LEADER_ELECTION (TR Fig. 4 B2).
        ConflictChecks.VcProof(Self, ReplicaState.RegularNonLeader, new VcProof(Peer, V(2))).Should().Be(DropReason.WrongState);
        ConflictChecks.VcProof(Self, ReplicaState.RegularLeader, new VcProof(Peer, V(2))).Should().Be(DropReason.WrongState);

        var fixture = NonLeaderOfView1();
        fixture.Deliver(new VcProof(R(2), V(2)));
        fixture.Counters.Dropped(DropReason.WrongState).Should().Be(1);
        fixture.Status.LastInstalled.Should().Be(V(1));
    }

    // ---- Prepare ----

    [Test]
    public void Prepare_passes_for_Last_Attempted()
    {
        // §4 Prepare: from another server for exactly Last_Attempted, it is considered (TR Fig. 4 C).
        ConflictChecks.Prepare(Self, V(4), new Prepare(Peer, V(4), S(0))).Should().Be(DropReason.None);
    }

    [Test]
    public void Prepare_from_self_is_dropped()
    {
        // §4 Prepare: dropped when it comes from this server itself (TR Fig. 4 C1).
        ConflictChecks.Prepare(Self, V(1), new Prepare(Self, V(1), S(0))).Should().Be(DropReason.FromSelf);

        var fixture = new ReplicaFixture(1);
        fixture.Deliver(new Prepare(R(1), V(1), S(0)));
        fixture.Counters.Dropped(DropReason.FromSelf).Should().Be(1);
        fixture.Status.LastInstalled.Should().Be(ViewNumber.None);
    }

    [Test]
    public void Prepare_for_a_view_other_than_Last_Attempted_is_dropped()
    {
        // §4 Prepare: dropped when view ≠ Last_Attempted, higher or lower (TR Fig. 4 C2, G19).
        ConflictChecks.Prepare(Self, V(2), new Prepare(Peer, V(3), S(0))).Should().Be(DropReason.StaleView);
        ConflictChecks.Prepare(Self, V(2), new Prepare(Peer, V(1), S(0))).Should().Be(DropReason.StaleView);

        var fixture = new ReplicaFixture(0).Clear();
        fixture.Deliver(new Prepare(R(1), V(4), S(0)));
        fixture.Counters.Dropped(DropReason.StaleView).Should().Be(1);
        fixture.Status.LastInstalled.Should().Be(ViewNumber.None);
        fixture.Sent.Should().BeEmpty();
    }

    // ---- Prepare_OK ----

    [Test]
    public void PrepareOk_passes_in_leader_election_for_Last_Attempted()
    {
        // §4 Prepare_OK: in LEADER_ELECTION for exactly Last_Attempted, it is considered (TR Fig. 4 D).
        ConflictChecks.PrepareOk(ReplicaState.LeaderElection, V(1), new PrepareOk(Peer, V(1), 0, 1, [])).Should().Be(DropReason.None);
    }

    [Test]
    public void PrepareOk_outside_leader_election_is_dropped()
    {
        // §4 Prepare_OK: dropped when State ≠ LEADER_ELECTION, so late reporters are ignored (TR Fig. 4 D1, G22).
        ConflictChecks.PrepareOk(ReplicaState.RegularLeader, V(1), new PrepareOk(Peer, V(1), 0, 1, [])).Should().Be(DropReason.WrongState);

        var fixture = LeaderOfView1();
        fixture.Deliver(new PrepareOk(R(2), V(1), 0, 1, [ProposalEntry(1, 0, U(1, 1))]));
        fixture.Counters.Dropped(DropReason.WrongState).Should().Be(1);
    }

    [Test]
    public void PrepareOk_for_a_view_other_than_Last_Attempted_is_dropped()
    {
        // §4 Prepare_OK: dropped when view ≠ Last_Attempted (TR Fig. 4 D2).
        ConflictChecks.PrepareOk(ReplicaState.LeaderElection, V(1), new PrepareOk(Peer, V(4), 0, 1, [])).Should().Be(DropReason.StaleView);

        var fixture = new ReplicaFixture(1);
        fixture.Deliver(new ViewChange(R(0), V(1)));
        fixture.Deliver(new PrepareOk(R(0), V(4), 0, 1, []));

        fixture.Counters.Dropped(DropReason.StaleView).Should().Be(1);
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection, "the stale Prepare_OK does not complete the Prepare phase");
    }

    // ---- Proposal ----

    [Test]
    public void Proposal_passes_at_a_regular_non_leader_for_Last_Installed()
    {
        // §4 Proposal: from another server, at a REG_NONLEADER, for exactly Last_Installed, it is considered (TR Fig. 4 E).
        ConflictChecks.Proposal(Self, ReplicaState.RegularNonLeader, V(1), Proposal(1, 1, 1, U(1, 1))).Should().Be(DropReason.None);
    }

    [Test]
    public void Proposal_from_self_is_dropped()
    {
        // §4 Proposal: dropped when it comes from this server itself (TR Fig. 4 E1).
        ConflictChecks.Proposal(Self, ReplicaState.RegularNonLeader, V(3), Proposal(0, 3, 1, U(1, 1))).Should().Be(DropReason.FromSelf);

        var fixture = NonLeaderOfView1();
        fixture.Deliver(Proposal(0, 1, 1, U(1, 1)));
        fixture.Counters.Dropped(DropReason.FromSelf).Should().Be(1);
        fixture.AcceptedProposals.Should().BeEmpty();
    }

    [Test]
    public void Proposal_outside_regular_non_leader_is_dropped()
    {
        // §4 Proposal: dropped when State ≠ REG_NONLEADER, even for the right view (TR Fig. 4 E2).
        ConflictChecks.Proposal(Self, ReplicaState.LeaderElection, V(1), Proposal(1, 1, 1, U(1, 1))).Should().Be(DropReason.WrongState);
        ConflictChecks.Proposal(Self, ReplicaState.RegularLeader, V(1), Proposal(1, 1, 1, U(1, 1))).Should().Be(DropReason.WrongState);

        // Replica 0 has installed view 1 and then suspected its leader: Last_Installed is still 1.
        var fixture = NonLeaderOfView1(configure: o => o.ProgressTimeoutTicks = 10);
        fixture.Tick(10);
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);
        fixture.Clear();

        fixture.Deliver(Proposal(1, 1, 1, U(1, 1)));

        fixture.Counters.Dropped(DropReason.WrongState).Should().Be(1);
        fixture.AcceptedProposals.Should().BeEmpty();
        fixture.MessagesOf<Accept>().Should().BeEmpty();
    }

    [Test]
    public void Proposal_for_a_view_other_than_Last_Installed_is_dropped()
    {
        // §4 Proposal: dropped when view ≠ Last_Installed, older or newer (TR Fig. 4 E3: the PfSB promise).
        ConflictChecks.Proposal(Self, ReplicaState.RegularNonLeader, V(4), Proposal(1, 7, 1, U(1, 1))).Should().Be(DropReason.StaleView);
        ConflictChecks.Proposal(Self, ReplicaState.RegularNonLeader, V(4), Proposal(1, 1, 1, U(1, 1))).Should().Be(DropReason.StaleView);

        var fixture = NonLeaderOfView1();
        fixture.Deliver(Proposal(1, 4, 1, U(1, 1)));

        fixture.Counters.Dropped(DropReason.StaleView).Should().Be(1);
        fixture.AcceptedProposals.Should().BeEmpty();
        fixture.MessagesOf<Accept>().Should().BeEmpty();
    }

    // ---- Accept ----

    [Test]
    public void Accept_passes_for_Last_Installed()
    {
        // §4 Accept: from another server for exactly Last_Installed, it is considered (TR Fig. 4 F).
        ConflictChecks.Accept(Self, V(2), Accept(1, 2, 1)).Should().Be(DropReason.None);
    }

    [Test]
    public void Accept_from_self_is_dropped()
    {
        // §4 Accept: dropped when it comes from this server itself (TR Fig. 4 F1).
        ConflictChecks.Accept(Self, V(1), Accept(0, 1, 1)).Should().Be(DropReason.FromSelf);

        var fixture = NonLeaderOfView1();
        fixture.Deliver(Proposal(1, 1, 1, U(1, 1)));
        fixture.Counters.Dropped(DropReason.FromSelf).Should().Be(0);

        fixture.Deliver(Accept(0, 1, 1));

        fixture.Counters.Dropped(DropReason.FromSelf).Should().Be(1);
    }

    [Test]
    public void Accept_for_a_view_other_than_Last_Installed_is_dropped()
    {
        // §4 Accept: dropped when view ≠ Last_Installed (TR Fig. 4 F2).
        ConflictChecks.Accept(Self, V(2), Accept(1, 1, 1)).Should().Be(DropReason.StaleView);
        ConflictChecks.Accept(Self, V(2), Accept(1, 3, 1)).Should().Be(DropReason.StaleView);

        // N = 5: the leader's Proposal plus this replica's own acceptance are 2 of the 3 needed.
        var fixture = NonLeaderOfView1(clusterSize: 5);
        fixture.Deliver(Proposal(1, 1, 1, U(1, 1)));
        fixture.Deliver(Accept(2, 2, 1));

        fixture.Counters.Dropped(DropReason.StaleView).Should().Be(1);
        fixture.Status.LocalAru.Should().Be(S(0), "an Accept of another view must not count");
    }

    [Test]
    public void Accept_before_its_Proposal_is_dropped_not_buffered()
    {
        // §4 Accept: dropped when the slot holds no Proposal from the same view; never buffered (TR Fig. 4 F3).
        var fixture = NonLeaderOfView1();
        fixture.AutoAcknowledge = false;

        fixture.Deliver(Accept(2, 1, 1));
        fixture.Counters.Dropped(DropReason.NoProposal).Should().Be(1);

        // The Proposal arrives. Had the Accept been kept, the leader's Proposal and replica 2's Accept
        // would already be a majority of 3 and the slot would execute before this replica's own write.
        fixture.Deliver(Proposal(1, 1, 1, U(1, 1)));

        fixture.Executor.Executed.Should().BeEmpty();
        fixture.Status.LocalAru.Should().Be(S(0));
    }

    [Test]
    public void Accept_for_a_slot_holding_a_Proposal_of_another_view_is_dropped()
    {
        // §4 Accept: the Proposal in the slot must be from the Accept's own view (TR Fig. 4 F3).
        // Replica 0 accepted slot 1 in view 1 (durable), then installed view 2 (leader 2).
        var recovered = new PersistentState
        {
            LastInstalled = V(1),
            AcceptedProposals = [Proposal(1, 1, 1, U(1, 1, origin: 1))],
        };
        var fixture = new ReplicaFixture(0, recovered: recovered);
        fixture.Deliver(new Prepare(R(2), V(2), S(0)));
        fixture.Status.LastInstalled.Should().Be(V(2));

        fixture.Deliver(Accept(1, 2, 1));

        fixture.Counters.Dropped(DropReason.NoProposal).Should().Be(1);
        fixture.Status.LocalAru.Should().Be(S(0));
    }
}
