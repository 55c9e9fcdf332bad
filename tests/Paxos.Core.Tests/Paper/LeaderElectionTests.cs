using Paxos.Messages;
using Paxos.Protocol;

using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>PROTOCOL.md §6 (TR §5.3, Fig. 6): leader election, its timers and the VC_Proof path, with gaps G3–G5 and G15.</summary>
public class LeaderElectionTests
{
    private const int BaseTicks = 10;

    private static void ShortProgressTimer(PaxosOptions options) => options.ProgressTimeoutTicks = BaseTicks;

    [Test]
    public void First_view_attempted_at_boot_is_1()
    {
        // §16.3 Startup: every server boots into LEADER_ELECTION for view 1 and sends View_Change(1) (TR Fig. 14 A16).
        var fixture = new ReplicaFixture(2);

        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);
        fixture.Status.LastAttempted.Should().Be(V(1));
        fixture.Status.LastInstalled.Should().Be(ViewNumber.None);
        var batch = fixture.Batches.Should().ContainSingle().Subject;
        batch.AttemptedView.Should().Be(V(1), "Last_Attempted is stored before the View_Change leaves");
        batch.RequiresSync.Should().BeTrue();
        batch.Messages.Should().ContainSingle().Which.Should().Match<OutboundMessage>(
            m => m.IsBroadcast && m.Message is ViewChange && ((ViewChange)m.Message).Attempted == V(1));
    }

    [Test]
    public void Lone_replica_keeps_attempting_view_1_without_timing_out()
    {
        // §16.3: at boot no Progress_Timer runs, so a server alone waits in view 1 for a majority, re-sending View_Change(1).
        var fixture = new ReplicaFixture(0, configure: o =>
        {
            o.ProgressTimeoutTicks = BaseTicks;
            o.ViewChangeRetransmitTicks = 20;
        }).Clear();

        fixture.Tick(50 * BaseTicks);

        fixture.Status.LastAttempted.Should().Be(V(1));
        fixture.Counters.ViewChangesStarted.Should().Be(1);
        fixture.MessagesOf<ViewChange>().Should().HaveCount(25).And.OnlyContain(v => v.Attempted == V(1));
    }

    [Test]
    public void Leader_of_a_view_is_view_mod_N()
    {
        // §6.1: the leader of view v is the server with id v mod N; view 1 is led by server 1, view N by server 0.
        var three = new ReplicaFixture(0).Replica;
        var five = new ReplicaFixture(0, clusterSize: 5).Replica;

        three.LeaderOf(V(1)).Should().Be(R(1));
        three.LeaderOf(V(3)).Should().Be(R(0));
        three.LeaderOf(V(5)).Should().Be(R(2));
        five.LeaderOf(V(5)).Should().Be(R(0));
        five.LeaderOf(V(12)).Should().Be(R(2));
        three.Status.Leader.Should().Be(R(1), "the status names the leader of Last_Attempted");
    }

    [Test]
    public void Single_replica_elects_itself()
    {
        // §6.2 Preinstall_Ready counts the server's own vote: with N = 1 it is a majority, so the replica leads view 1 at once.
        var fixture = new ReplicaFixture(0, clusterSize: 1);

        fixture.Status.State.Should().Be(ReplicaState.RegularLeader);
        fixture.Status.LastInstalled.Should().Be(V(1));
        fixture.InstalledViews.Should().Equal(V(1));

        fixture.Submit(U(1, 1)).Should().Be(SubmitStatus.Accepted);
        fixture.Flush();

        fixture.Executor.ExecutedNames.Should().Equal("c1#1@1");
        fixture.Replies.Should().ContainSingle().Which.Status.Should().Be(ReplyStatus.Executed);
    }

    [Test]
    public void Progress_timer_expiry_shifts_to_leader_election_for_Last_Attempted_plus_1()
    {
        // §6.2 Progress_Timer expires: Shift_to_Leader_Election(Last_Attempted + 1) sends View_Change to all (TR Fig. 6 A, E; G3).
        var fixture = NonLeaderOfView1(configure: ShortProgressTimer);

        fixture.Tick(BaseTicks - 1);
        fixture.Status.State.Should().Be(ReplicaState.RegularNonLeader);
        fixture.MessagesOf<ViewChange>().Should().BeEmpty();

        fixture.Tick();

        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);
        fixture.Status.LastAttempted.Should().Be(V(2));
        fixture.Status.LastInstalled.Should().Be(V(1));
        var (to, viewChange) = fixture.SentOf<ViewChange>().Should().ContainSingle().Subject;
        to.IsNone.Should().BeTrue("View_Change goes to all");
        viewChange.Attempted.Should().Be(V(2));
        fixture.Counters.ViewChangesStarted.Should().Be(2, "view 1 at boot, view 2 now");
    }

    [Test]
    public void ViewChange_for_a_higher_view_makes_a_replica_whose_timer_is_stopped_jump()
    {
        // §6.2 View_Change step 1: attempted > Last_Attempted and no timer running → Shift_to_Leader_Election(attempted) (TR Fig. 6 B1–B2).
        var fixture = new ReplicaFixture(0, clusterSize: 5);
        fixture.Clear();

        fixture.Deliver(new ViewChange(R(3), V(4)));

        fixture.Status.LastAttempted.Should().Be(V(4));
        fixture.Counters.ViewsPreinstalled.Should().Be(0, "0 and 3 are 2 of 5");
        fixture.SentOf<ViewChange>().Should().ContainSingle().Which.To.Should().Be(ReplicaId.None);
        fixture.MessagesOf<ViewChange>()[0].Attempted.Should().Be(V(4), "the jump is a vote for the higher view");
    }

    [Test]
    public void ViewChange_for_a_higher_view_does_not_move_a_replica_that_preinstalled()
    {
        // §6.4 stability: once preinstalled (timer running) a replica does not follow a flaky server's higher views (TR §5.3).
        var fixture = new ReplicaFixture(0, clusterSize: 5);
        fixture.Deliver(new ViewChange(R(2), V(1)), new ViewChange(R(3), V(1)));
        fixture.Counters.ViewsPreinstalled.Should().Be(1);

        for (var view = 2; view <= 6; view++)
        {
            fixture.Deliver(new ViewChange(R(4), V(view)));
        }

        fixture.Status.LastAttempted.Should().Be(V(1));
        fixture.Counters.Dropped(DropReason.ProgressTimerRunning).Should().Be(5);
    }

    [Test]
    public void ViewChange_that_causes_a_jump_also_counts_as_a_vote()
    {
        // §6.2 View_Change step 2 is a separate check, not an else: a server that jumps counts the triggering vote and,
        // for N = 3, preinstalls on that same message (TR Fig. 6 B3–B10).
        var fixture = new ReplicaFixture(1);
        fixture.Clear();

        var batch = fixture.Deliver(new ViewChange(R(0), V(4)));

        fixture.Counters.ViewsPreinstalled.Should().Be(1);
        batch.InstalledView.Should().Be(V(4), "replica 1 leads view 4 and starts its Prepare phase on the same message");
        batch.Messages.Select(m => m.Message.ToString()).Should().Equal("ViewChange v=4", "Prepare v=4 aru=0");
    }

    [Test]
    public void Preinstall_at_the_leader_of_the_view_starts_the_Prepare_phase()
    {
        // §6.2 Preinstall_Ready: if this server leads Last_Attempted, Shift_To_Prepare_Phase (TR Fig. 6 B10).
        var leader = new ReplicaFixture(1).Clear();
        var follower = new ReplicaFixture(0).Clear();

        leader.Deliver(new ViewChange(R(0), V(1)));
        follower.Deliver(new ViewChange(R(1), V(1)));

        leader.MessagesOf<Prepare>().Should().ContainSingle().Which.View.Should().Be(V(1));
        leader.InstalledViews.Should().Equal(V(1));
        follower.Counters.ViewsPreinstalled.Should().Be(1);
        follower.MessagesOf<Prepare>().Should().BeEmpty();
        follower.InstalledViews.Should().BeEmpty("a non-leader installs only when the leader's Prepare arrives");
        follower.Status.LastInstalled.Should().Be(ViewNumber.None);
    }

    [Test]
    public void Preinstall_doubles_the_progress_timer()
    {
        // §6.2 Preinstall_Ready: double the Progress_Timer duration and start it (TR Fig. 6 B8–B9).
        var fixture = new ReplicaFixture(0, configure: ShortProgressTimer);

        fixture.Deliver(new ViewChange(R(1), V(1)));
        fixture.TicksUntil(() => fixture.Status.LastAttempted == V(2), 1000).Should().Be(2 * BaseTicks);

        fixture.Deliver(new ViewChange(R(2), V(2)));
        fixture.TicksUntil(() => fixture.Status.LastAttempted == V(3), 1000).Should().Be(4 * BaseTicks);
    }

    [Test]
    public void Doubled_progress_timer_is_capped()
    {
        // §6.5 / G5: the doubling is capped by MaxProgressTimeoutTicks, so recovery time stays bounded.
        var fixture = new ReplicaFixture(0, configure: o =>
        {
            o.ProgressTimeoutTicks = BaseTicks;
            o.MaxProgressTimeoutTicks = 3 * BaseTicks;
        });

        fixture.Deliver(new ViewChange(R(1), V(1)));
        fixture.TicksUntil(() => fixture.Status.LastAttempted == V(2), 1000).Should().Be(2 * BaseTicks);
        fixture.Deliver(new ViewChange(R(2), V(2)));
        fixture.TicksUntil(() => fixture.Status.LastAttempted == V(3), 1000).Should().Be(3 * BaseTicks);
        fixture.Deliver(new ViewChange(R(1), V(3)));
        fixture.TicksUntil(() => fixture.Status.LastAttempted == V(4), 1000).Should().Be(3 * BaseTicks);
    }

    [Test]
    public void Progress_in_the_installed_view_resets_the_doubling_to_the_base()
    {
        // §6.5 / G5: after the installed view executes an update, the timeout returns to the base, so the next
        // preinstall doubles from the base again rather than from the grown value.
        var fixture = new ReplicaFixture(0, configure: ShortProgressTimer);
        fixture.Deliver(new ViewChange(R(1), V(1)));
        fixture.Deliver(new Prepare(R(1), V(1), S(0)));
        fixture.Deliver(Proposal(1, 1, 1, U(1, 1, origin: 1)));
        fixture.Status.LocalAru.Should().Be(S(1));
        fixture.TicksUntil(() => fixture.Status.LastAttempted == V(2), 1000).Should().BePositive();

        fixture.Deliver(new ViewChange(R(2), V(2)));

        fixture.TicksUntil(() => fixture.Status.LastAttempted == V(3), 1000).Should().Be(2 * BaseTicks, "2 × base, not 4 × base");
    }

    [Test]
    public void Progress_in_the_installed_view_restarts_the_timer_with_the_base_duration()
    {
        // §6.5 / G5: reset to base after progress — the timer restarted by that progress runs for the base duration.
        var fixture = new ReplicaFixture(0, configure: ShortProgressTimer);
        fixture.Deliver(new ViewChange(R(1), V(1)));
        fixture.Deliver(new Prepare(R(1), V(1), S(0)));

        fixture.Deliver(Proposal(1, 1, 1, U(1, 1, origin: 1)));
        fixture.Status.LocalAru.Should().Be(S(1));

        fixture.TicksUntil(() => fixture.Status.LastAttempted == V(2), 1000).Should().Be(BaseTicks);
    }

    [Test]
    public void ViewChange_is_retransmitted_periodically_in_leader_election()
    {
        // §6.3 / §12: View_Change is re-sent every ViewChangeRetransmitTicks while in LEADER_ELECTION (TR §5.9).
        var fixture = new ReplicaFixture(0, configure: o => o.ViewChangeRetransmitTicks = 7).Clear();

        fixture.Tick(6);
        fixture.MessagesOf<ViewChange>().Should().BeEmpty();
        fixture.Tick();
        fixture.Tick(7);

        fixture.SentOf<ViewChange>().Should().HaveCount(2).And.OnlyContain(m => m.To.IsNone && m.Message.Attempted == V(1));
    }

    [Test]
    public void ViewChange_after_a_progress_timeout_is_retransmitted_a_full_period_later()
    {
        // §6.3 / §12: the View_Change period is ViewChangeRetransmitTicks, however the attempt started.
        var fixture = NonLeaderOfView1(configure: o =>
        {
            ShortProgressTimer(o);
            o.ViewChangeRetransmitTicks = 5;
        });
        fixture.Tick(BaseTicks);
        fixture.MessagesOf<ViewChange>().Should().ContainSingle();

        fixture.TicksUntil(() => fixture.MessagesOf<ViewChange>().Count == 2, 100).Should().Be(5);
    }

    [Test]
    public void ViewChange_is_not_retransmitted_once_a_view_is_installed()
    {
        // §6.3: the retransmission runs only while in LEADER_ELECTION (TR §5.9).
        var fixture = NonLeaderOfView1(configure: o => o.ViewChangeRetransmitTicks = 7);

        fixture.Tick(30);

        fixture.MessagesOf<ViewChange>().Should().BeEmpty();
    }

    [Test]
    public void VcProof_for_a_higher_view_installs_it_at_a_non_leader()
    {
        // §6.2 VC_Proof: installed > Last_Installed → Last_Attempted = installed, Shift_to_Reg_Non_Leader (TR Fig. 6 C),
        // with the Progress_Timer armed (G4).
        var fixture = new ReplicaFixture(0, configure: ShortProgressTimer).Clear();

        var batch = fixture.Deliver(new VcProof(R(1), V(2)));

        fixture.Status.State.Should().Be(ReplicaState.RegularNonLeader);
        fixture.Status.LastInstalled.Should().Be(V(2));
        fixture.Status.LastAttempted.Should().Be(V(2));
        batch.InstalledView.Should().Be(V(2));
        batch.RequiresSync.Should().BeTrue();
        fixture.TicksUntil(() => fixture.Status.State == ReplicaState.LeaderElection, 1000).Should().Be(BaseTicks, "G4: the timer runs after a VC_Proof install");
    }

    [Test]
    public void VcProof_for_a_higher_view_led_by_this_replica_starts_its_Prepare_phase()
    {
        // §6.2 VC_Proof: if this server leads the proven view, Shift_To_Prepare_Phase (TR Fig. 6 C).
        var fixture = new ReplicaFixture(2).Clear();

        var batch = fixture.Deliver(new VcProof(R(0), V(2)));

        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);
        fixture.Status.LastInstalled.Should().Be(V(2));
        batch.InstalledView.Should().Be(V(2));
        batch.Messages.Should().ContainSingle().Which.Message.ToString().Should().Be("Prepare v=2 aru=0");
    }

    [Test]
    public void VcProof_is_sent_only_in_a_regular_state()
    {
        // §6.3 / departure: VC_Proof(Last_Installed) goes out every VcProofIntervalTicks, here only from REG_LEADER or REG_NONLEADER.
        var fixture = new ReplicaFixture(0, configure: o => o.VcProofIntervalTicks = 5).Clear();
        fixture.Tick(15);
        fixture.MessagesOf<VcProof>().Should().BeEmpty("a replica in leader election does not send VC_Proof");

        fixture.Deliver(new Prepare(R(1), V(1), S(0)));
        fixture.Tick(10);

        fixture.SentOf<VcProof>().Should().HaveCount(2).And.OnlyContain(m => m.To.IsNone && m.Message.Installed == V(1));
    }

    [Test]
    public void VcProof_from_the_leader_of_the_view_a_non_leader_left_lets_it_rejoin()
    {
        // G15 (§16.4): a non-leader that left view L rejoins it on VC_Proof(L) from L's leader (departure, AllowSameViewRejoin).
        var fixture = NonLeaderOfView1(configure: ShortProgressTimer);
        fixture.Tick(BaseTicks);
        fixture.Status.LastAttempted.Should().Be(V(2));
        fixture.Clear();

        fixture.Deliver(new VcProof(R(1), V(1)));

        fixture.Status.State.Should().Be(ReplicaState.RegularNonLeader);
        fixture.Status.LastInstalled.Should().Be(V(1));
        fixture.Status.LastAttempted.Should().Be(V(1));
        fixture.Counters.SameViewRejoins.Should().Be(1);

        fixture.Deliver(Proposal(1, 1, 1, U(1, 1, origin: 1)));
        fixture.Executor.ExecutedNames.Should().Equal("c1#1@1");
    }

    [Test]
    public void VcProof_for_the_same_view_from_a_non_leader_does_not_rejoin()
    {
        // G15: only the leader of L proves that L is still led; a VC_Proof(L) from another member is stale.
        var fixture = NonLeaderOfView1(configure: ShortProgressTimer);
        fixture.Tick(BaseTicks);

        fixture.Deliver(new VcProof(R(2), V(1)));

        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);
        fixture.Status.LastAttempted.Should().Be(V(2));
        fixture.Counters.Dropped(DropReason.StaleView).Should().Be(1);
        fixture.Counters.SameViewRejoins.Should().Be(0);
    }

    [Test]
    public void VcProof_for_the_same_view_does_not_bring_back_its_former_leader()
    {
        // G15 / §16.4: the leader of L must not rejoin L; it moves to a higher view.
        var fixture = LeaderOfView1(configure: ShortProgressTimer);
        fixture.TicksUntil(() => fixture.Status.State == ReplicaState.LeaderElection, 1000).Should().BePositive();

        fixture.Deliver(new VcProof(R(0), V(1)));
        fixture.Deliver(new VcProof(R(2), V(1)));

        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);
        fixture.Status.LastAttempted.Should().Be(V(2));
        fixture.Counters.SameViewRejoins.Should().Be(0);
    }

    [Test]
    public void VcProof_for_the_same_view_does_not_rejoin_when_rejoin_is_disabled()
    {
        // G15: the same-view rejoin is an option; with AllowSameViewRejoin off the TR rule (installed > Last_Installed) stands.
        var fixture = NonLeaderOfView1(configure: o =>
        {
            ShortProgressTimer(o);
            o.AllowSameViewRejoin = false;
        });
        fixture.Tick(BaseTicks);

        fixture.Deliver(new VcProof(R(1), V(1)));

        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);
        fixture.Counters.SameViewRejoins.Should().Be(0);
        fixture.Counters.Dropped(DropReason.StaleView).Should().Be(1);
    }

    [Test]
    public void Many_ticks_at_once_fire_each_timer_once()
    {
        // A host that ticks by its clock gives a stalled replica every missed tick in one call: the Progress_Timer
        // fires once (one election, for the next view), not once per elapsed period.
        var follower = NonLeaderOfView1(id: 0);
        follower.Replica.Tick(follower.Options.ProgressTimeoutTicks * 5);
        follower.Flush();
        follower.Status.State.Should().Be(ReplicaState.LeaderElection);
        follower.Status.LastAttempted.Should().Be(V(2));
        follower.Counters.ViewChangesStarted.Should().Be(2, "one at start, one now");
        follower.MessagesOf<ViewChange>().Should().ContainSingle();
    }

    [Test]
    public void Ticks_come_in_positive_counts()
    {
        var fixture = new ReplicaFixture(0);
        fixture.Invoking(f => f.Replica.Tick(0)).Should().Throw<ArgumentOutOfRangeException>();
    }
}
