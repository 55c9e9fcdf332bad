using Paxos.Messages;
using Paxos.Protocol;

using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>PROTOCOL.md §7–§8 (TR §5.4, Figs. 7–9): the Prepare phase, with G4, G10, G17 and the PrepareReject departure.</summary>
public class PreparePhaseTests
{
    private static PersistentState History(long lastInstalled, int orderedUpTo = 0, params Proposal[] accepted) => new()
    {
        LastInstalled = V(lastInstalled),
        OrderedSlots = Enumerable.Range(1, orderedUpTo).Select(s => new OrderedSlot(S(s), U(100 + s, 1, origin: 2))).ToArray(),
        AcceptedProposals = accepted,
    };

    [Test]
    public void Leader_installs_its_view_in_the_same_batch_as_its_Prepare()
    {
        // §8.1 Shift_To_Prepare_Phase: Last_Installed = Last_Attempted, synced, then Prepare to all (TR Fig. 7 A1–A9).
        var fixture = new ReplicaFixture(1).Clear();

        var batch = fixture.Deliver(new ViewChange(R(0), V(1)));

        batch.InstalledView.Should().Be(V(1));
        batch.RequiresSync.Should().BeTrue("the host syncs the installed view before the Prepare leaves (OutputBatch contract)");
        var prepare = batch.Messages.Should().ContainSingle().Subject;
        prepare.IsBroadcast.Should().BeTrue();
        prepare.Message.Should().BeOfType<Prepare>().Which.LocalAru.Should().Be(S(0));
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection, "the leader stays in LEADER_ELECTION until the view is prepared (§7)");
        fixture.Status.LastInstalled.Should().Be(V(1));
    }

    [Test]
    public void Non_leader_installs_on_Prepare_and_answers_the_leader_only()
    {
        // §8.2: on Prepare in LEADER_ELECTION the non-leader installs (synced) and sends Prepare_OK to the leader (TR Fig. 7 B, Fig. 9 B).
        var fixture = new ReplicaFixture(0).Clear();

        var batch = fixture.Deliver(new Prepare(R(1), V(1), S(0)));

        fixture.Status.State.Should().Be(ReplicaState.RegularNonLeader);
        batch.InstalledView.Should().Be(V(1));
        batch.RequiresSync.Should().BeTrue("a Prepare_OK is a promise: Last_Installed is synced before it leaves");
        var (to, message) = batch.Messages.Should().ContainSingle().Subject;
        to.Should().Be(R(1));
        message.Should().BeOfType<PrepareOk>().Which.Should().Match<PrepareOk>(ok => ok.View == V(1) && ok.Part == 0 && ok.PartCount == 1 && ok.Entries.Count == 0);
    }

    [Test]
    public void Non_leader_installed_by_a_Prepare_arms_its_progress_timer()
    {
        // G4: a server that installs by answering a Prepare without having preinstalled must still run its Progress_Timer (§6.5).
        var fixture = NonLeaderOfView1(configure: o => o.ProgressTimeoutTicks = 10);

        fixture.TicksUntil(() => fixture.Status.State == ReplicaState.LeaderElection, 1000).Should().Be(10);
        fixture.Status.LastAttempted.Should().Be(V(2));
    }

    [Test]
    public void Data_list_reports_ordered_updates_and_proposals_above_the_Prepare_aru()
    {
        // §8.3 Construct_DataList(aru): for each non-empty seq > aru, the ordered update if any, else the Proposal (TR Fig. 8 A).
        var fixture = new ReplicaFixture(0, recovered: History(1, orderedUpTo: 2, Proposal(1, 1, 3, U(7, 1, origin: 1))));
        fixture.Status.LocalAru.Should().Be(S(2));
        fixture.Clear();

        fixture.Deliver(new Prepare(R(2), V(2), S(1)));

        var ok = fixture.MessagesOf<PrepareOk>().Should().ContainSingle().Subject;
        ok.Entries.Should().HaveCount(2);
        ok.Entries[0].Should().Match<DataListEntry>(e => e.Sequence == S(2) && e.IsOrdered && e.Update.ClientId == new ClientId(102));
        ok.Entries[1].Should().Match<DataListEntry>(e => e.Sequence == S(3) && !e.IsOrdered && e.View == V(1) && e.Update.ClientId == new ClientId(7));
    }

    [Test]
    public void Long_data_list_is_split_into_parts_that_each_fit_a_message()
    {
        // §8.3 / G17: a data list larger than one message is sent in parts, each within MaxMessageBytes (departure: parts).
        var updates = Enumerable.Range(1, 6).Select(c => U(c, 1, payloadBytes: 300, origin: 1)).ToArray();
        var fixture = new ReplicaFixture(0, configure: o =>
        {
            o.MaxMessageBytes = 512;
            o.MaxUpdateBytes = 400;
        }, recovered: History(1, 0, new Proposal(R(1), V(1), S(1), updates)));
        fixture.Clear();

        fixture.Deliver(new Prepare(R(2), V(2), S(0)));

        var parts = fixture.SentOf<PrepareOk>();
        parts.Should().HaveCountGreaterThan(1).And.OnlyContain(p => p.To == R(2));
        parts.Select(p => p.Message.Part).Should().Equal(Enumerable.Range(0, parts.Count));
        parts.Should().OnlyContain(p => p.Message.PartCount == parts.Count);
        parts.SelectMany(p => p.Message.Entries).Select(e => e.Sequence.Value).Should().Equal(1, 2, 3, 4, 5, 6);
        var codec = new MessageCodec(new MessageCodecOptions { ClusterSize = 3, MaxMessageBytes = 512 });
        parts.Should().OnlyContain(p => codec.GetEncodedLength(p.Message) <= codec.MaxFrameBytes);
    }

    [Test]
    public void Retransmitted_Prepare_is_answered_with_the_stored_PrepareOk()
    {
        // §8.2 / §12: a Prepare for the installed view re-sends the stored Prepare_OK (receiver-driven retransmission).
        var fixture = new ReplicaFixture(0, recovered: History(1, 0, Proposal(1, 1, 1, U(7, 1, origin: 1))));
        fixture.Deliver(new Prepare(R(2), V(2), S(0)));
        var first = fixture.MessagesOf<PrepareOk>().Should().ContainSingle().Subject;
        fixture.Clear();

        var batch = fixture.Deliver(new Prepare(R(2), V(2), S(0)));

        batch.InstalledView.Should().BeNull("the view is already installed");
        var (to, again) = fixture.SentOf<PrepareOk>().Should().ContainSingle().Subject;
        to.Should().Be(R(2));
        again.Should().BeSameAs(first);
        fixture.Status.State.Should().Be(ReplicaState.RegularNonLeader);
    }

    [Test]
    public void Prepare_from_a_leader_more_than_a_window_behind_is_rejected_without_installing()
    {
        // §8.2 TR §5.6 (departure: tolerance WindowSlots): a leader too far behind gets PrepareReject(own aru) and nothing is installed.
        static void SmallWindow(PaxosOptions o)
        {
            o.MaxBatchUpdates = 4;
            o.WindowSlots = 4;
        }

        var fixture = new ReplicaFixture(0, configure: SmallWindow, recovered: History(1, orderedUpTo: 10));
        fixture.Clear();

        var batch = fixture.Deliver(new Prepare(R(2), V(2), S(5)));

        batch.InstalledView.Should().BeNull();
        var (to, reject) = fixture.SentOf<PrepareReject>().Should().ContainSingle().Subject;
        to.Should().Be(R(2));
        reject.LocalAru.Should().Be(S(10));
        reject.View.Should().Be(V(2));
        fixture.MessagesOf<PrepareOk>().Should().BeEmpty();
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);
        fixture.Status.LastInstalled.Should().Be(V(1));
        fixture.Counters.PrepareRejectsSent.Should().Be(1);

        // Exactly WindowSlots behind is close enough.
        fixture.Deliver(new Prepare(R(2), V(2), S(6)));
        fixture.Status.LastInstalled.Should().Be(V(2));
    }

    [Test]
    public void Leader_told_it_is_behind_catches_up_from_that_replica_and_prepares_again_with_its_new_aru()
    {
        // §8.2 TR §5.6 (PSB-C PREPARE_OK REJECT): the leader reconciles with the rejecting replica, then re-sends its Prepare
        // with the higher aru (G17 departure, documented: a higher aru only shortens the data lists).
        var fixture = new ReplicaFixture(1, configure: o => o.PrepareRetransmitTicks = 5);
        fixture.Deliver(new ViewChange(R(0), V(1)));
        fixture.Clear();

        fixture.Deliver(new PrepareReject(R(0), V(1), S(3)));

        var (to, request) = fixture.SentOf<CatchUpRequest>().Should().ContainSingle().Subject;
        to.Should().Be(R(0));
        request.FromSequence.Should().Be(S(1));
        request.ToSequence.Should().Be(S(3));

        fixture.Deliver(Ordered(0, 1, U(1, 1, origin: 0), U(2, 1, origin: 0), U(3, 1, origin: 0)));
        fixture.Status.LocalAru.Should().Be(S(3));
        fixture.Tick(5);

        fixture.SentOf<Prepare>().Select(p => (p.To, p.Message.LocalAru)).Should().Equal((R(0), S(3)), (R(2), S(3)));
        fixture.Status.LastInstalled.Should().Be(V(1), "still the same view: one view, one Prepare phase");
    }

    [Test]
    public void Leader_applies_data_lists_keeping_the_highest_view_per_slot()
    {
        // §8.4 + §5 Proposal rule: the new leader holds, per slot, the highest-view Proposal among its own and the reports (TR §4.2).
        // Replica 1 accepted slot 1 in view 2 and slot 2 in view 3; it restarts and leads view 4.
        var recovered = History(3, 0, Proposal(2, 2, 1, U(1, 1, origin: 2)), Proposal(0, 3, 2, U(2, 1, origin: 0)));
        var fixture = new ReplicaFixture(1, recovered: recovered);

        // Replica 0 reports slot 1 from view 3 (higher than the leader's) and slot 2 from view 1 (lower).
        fixture.BecomeLeader(V(4), ProposalEntry(1, 3, U(3, 1, origin: 0)), ProposalEntry(2, 1, U(4, 1, origin: 0)));
        fixture.Flush();

        var proposals = fixture.MessagesOf<Proposal>();
        proposals.Should().OnlyContain(p => p.View == V(4));
        proposals.SelectMany(p => p.Updates).Select(u => u.ToString()).Should().Equal("c3#1", "c2#1");
        fixture.Counters.ConstrainedSlotsReproposed.Should().Be(2);
    }

    [Test]
    public void Ordered_updates_in_a_data_list_advance_the_leaders_aru_at_once()
    {
        // G10: after applying a data list the leader calls Advance_Aru, so reported ordered updates execute (TR Fig. 5 C6 omits it).
        var fixture = new ReplicaFixture(1, clusterSize: 5);
        fixture.Deliver(new ViewChange(R(0), V(1)), new ViewChange(R(2), V(1)));

        fixture.Deliver(new PrepareOk(R(0), V(1), 0, 1, [OrderedEntry(1, U(9, 1, origin: 0)), OrderedEntry(2, U(9, 2, origin: 0))]));

        fixture.Status.State.Should().Be(ReplicaState.LeaderElection, "one report of the two needed");
        fixture.Status.LocalAru.Should().Be(S(2));
        fixture.Executor.ExecutedNames.Should().Equal("c9#1@1", "c9#2@2");
        fixture.Counters.SlotsLearnedOrdered.Should().Be(2);
    }

    [Test]
    public void Leader_becomes_regular_leader_when_a_majority_including_itself_answered()
    {
        // §8.4 View_Prepared_Ready: ⌊N/2⌋+1 Prepare_OKs, the leader's own included → Shift_to_Reg_Leader (TR Fig. 8 B4).
        var fixture = new ReplicaFixture(1, clusterSize: 5);
        fixture.Deliver(new ViewChange(R(0), V(1)), new ViewChange(R(2), V(1)));

        fixture.Deliver(new PrepareOk(R(3), V(1), 0, 1, []));
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection, "1 and 3 are 2 of 3");

        fixture.Deliver(new PrepareOk(R(4), V(1), 0, 1, []));
        fixture.Status.State.Should().Be(ReplicaState.RegularLeader);
        fixture.Counters.ViewsLed.Should().Be(1);
    }

    [Test]
    public void PrepareOk_in_parts_counts_only_once_every_part_arrived()
    {
        // §8.4 with the parts departure: a replica's Prepare_OK counts once all its parts are held.
        var fixture = new ReplicaFixture(1);
        fixture.Deliver(new ViewChange(R(0), V(1)));

        fixture.Deliver(new PrepareOk(R(0), V(1), 1, 2, [ProposalEntry(2, 0, U(1, 2, origin: 0))]));
        fixture.Deliver(new PrepareOk(R(0), V(1), 1, 2, [ProposalEntry(2, 0, U(1, 2, origin: 0))]));
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);

        fixture.Deliver(new PrepareOk(R(0), V(1), 0, 2, []));
        fixture.Status.State.Should().Be(ReplicaState.RegularLeader);
    }

    [Test]
    public void Prepare_is_retransmitted_only_to_replicas_whose_PrepareOk_is_missing()
    {
        // §12 Prepare: re-sent every PrepareRetransmitTicks until the view is prepared, to those that have not answered.
        var fixture = new ReplicaFixture(1, clusterSize: 5, configure: o => o.PrepareRetransmitTicks = 5);
        fixture.Deliver(new ViewChange(R(0), V(1)), new ViewChange(R(2), V(1)));
        fixture.Deliver(new PrepareOk(R(2), V(1), 0, 1, []));
        fixture.Clear();

        fixture.Tick(4);
        fixture.MessagesOf<Prepare>().Should().BeEmpty();
        fixture.Tick();

        fixture.SentOf<Prepare>().Select(p => p.To).Should().Equal(R(0), R(3), R(4));
        fixture.MessagesOf<Prepare>().Should().OnlyContain(p => p.View == V(1) && p.LocalAru == S(0));

        fixture.Deliver(new PrepareOk(R(0), V(1), 0, 1, []));
        fixture.Clear();
        fixture.Tick(20);
        fixture.MessagesOf<Prepare>().Should().BeEmpty("the view is prepared");
    }
}
