using Paxos.Messages;
using Paxos.Protocol;

using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>PROTOCOL.md §16.2–§16.4 (TR §5.8, Fig. 14; G14): rebuilding a replica from its stable storage.</summary>
public class RecoveryTests
{
    private static readonly ClientUpdate Executed1 = U(1, 1, origin: 0);
    private static readonly ClientUpdate Executed2 = U(2, 1, origin: 2);

    private static PersistentState Stored(params ClientUpdate[] pending) => new()
    {
        LastInstalled = V(4),
        OrderedSlots = [new OrderedSlot(S(1), Executed1), new OrderedSlot(S(2), ClientUpdate.NoOp), new OrderedSlot(S(3), Executed2)],
        AcceptedProposals = [Proposal(1, 4, 4, U(3, 1, origin: 1))],
        PendingUpdates = pending,
    };

    [Test]
    public void Recovery_replays_the_ordered_log_into_a_fresh_executor()
    {
        // §16.2 step 2 / G14: Global_History is rebuilt from the log and every ordered update is executed again, in order.
        var fixture = new ReplicaFixture(0, recovered: Stored());

        fixture.Executor.History.Select(u => $"c{u.ClientId.Value}#{u.Timestamp}@{u.Sequence.Value}").Should().Equal("c1#1@1", "c2#1@3");
        fixture.Status.LocalAru.Should().Be(S(3));
        fixture.OrderedSlots.Should().BeEmpty("replayed slots are already in the log; they are not written again");
    }

    [Test]
    public void Recovery_starts_leader_election_for_the_view_after_Last_Installed()
    {
        // §16.2 step 3 (PSB-C variant: only Last_Installed is stored): Shift_to_Leader_Election(Last_Installed + 1).
        var fixture = new ReplicaFixture(0, recovered: Stored());

        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);
        fixture.Status.LastInstalled.Should().Be(V(4));
        fixture.Status.LastAttempted.Should().Be(V(5));
        fixture.MessagesOf<ViewChange>().Should().ContainSingle().Which.Attempted.Should().Be(V(5));
        fixture.InstalledViews.Should().BeEmpty();
    }

    [Test]
    public void Recovery_rebuilds_the_client_table()
    {
        // §16.2 (PSB-C rebuilds Last_Executed from the log) + G13: an executed update re-submitted after restart is answered, not run again.
        var fixture = new ReplicaFixture(1, recovered: Stored()).Clear();

        fixture.Submit(U(2, 1)).Should().Be(SubmitStatus.AlreadyExecuted);

        fixture.Replies.Should().ContainSingle().Which.Should().Match<ClientReply>(r => r.Sequence == S(3) && r.Status == ReplyStatus.Executed);
        fixture.Replies.Single().Result.ToArray().Should().Equal(TestExecutor.Reply(3));
    }

    [Test]
    public void Recovery_keeps_accepted_proposals_and_reports_them_in_its_data_list()
    {
        // §16.1 #3 / §16.2: an accepted Proposal survives a restart, so the next leader's Prepare learns about it (TR §4.2).
        var fixture = new ReplicaFixture(0, recovered: Stored()).Clear();

        fixture.Deliver(new Prepare(R(2), V(5), S(3)));

        var ok = fixture.MessagesOf<PrepareOk>().Should().ContainSingle().Subject;
        ok.Entries.Should().ContainSingle().Which.Should().Match<DataListEntry>(e => e.Sequence == S(4) && e.View == V(4) && !e.IsOrdered);
    }

    [Test]
    public void Recovery_restores_pending_updates_that_did_not_execute()
    {
        // §16.2 step 2: stored pending updates go back to Pending_Updates — except those the log shows executed (PSB-C).
        var fixture = new ReplicaFixture(0, recovered: Stored(Executed1, U(5, 1, origin: 0)));
        fixture.Status.PendingUpdates.Should().Be(1);
        fixture.Clear();

        fixture.Deliver(new Prepare(R(2), V(5), S(3)));

        var forward = fixture.SentOf<ClientUpdateForward>().Should().ContainSingle().Subject;
        forward.To.Should().Be(R(2));
        forward.Message.Updates.Select(u => u.ToString()).Should().Equal("c5#1");
    }

    [Test]
    public void Recovered_pending_update_is_retried_by_the_update_timer()
    {
        // §16.2 step 2: a recovered pending update goes back through Add_to_Pending_Updates, which re-arms its Update_Timer (TR Fig. 14).
        // Replica 1 restarts responsible for two updates and leads view 4 with a queue of one: the second must be queued later.
        var recovered = new PersistentState
        {
            LastInstalled = V(3),
            PendingUpdates = [U(1, 1, origin: 1), U(2, 1, origin: 1)],
        };
        var fixture = new ReplicaFixture(1, configure: o =>
        {
            o.MaxUpdateQueueLength = 1;
            o.UpdateRetransmitTicks = 20;
        }, recovered: recovered);
        fixture.BecomeLeader(V(4));
        fixture.MessagesOf<Proposal>().SelectMany(p => p.Updates).Select(u => u.ToString()).Should().Equal("c1#1");

        fixture.Tick(50);

        fixture.MessagesOf<Proposal>().SelectMany(p => p.Updates).Select(u => u.ToString()).Should().Equal("c1#1", "c2#1");
    }

    [Test]
    public void Recovery_keeps_every_stored_pending_update_even_above_MaxPendingUpdates()
    {
        // §10.1 / §16.2: the origin stays responsible for every update it synced as pending, across crashes; a smaller bound
        // configured since then limits new submissions, it cannot undo responsibilities already taken.
        var recovered = new PersistentState
        {
            LastInstalled = V(1),
            PendingUpdates = [U(1, 1, origin: 0), U(2, 1, origin: 0), U(3, 1, origin: 0)],
        };

        var fixture = new ReplicaFixture(0, configure: o => o.MaxPendingUpdates = 2, recovered: recovered);

        fixture.Status.PendingUpdates.Should().Be(3);
        fixture.Submit(U(4, 1)).Should().Be(SubmitStatus.Overloaded);
    }
}
