using Paxos.Messages;
using Paxos.Protocol;
using Paxos.Storage;

using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>G16 (docs/protocol-notes.md, "Rebuilding a lost disk"): a replica whose storage was lost rebuilds
/// from its peers and never votes on state it forgot.</summary>
public class RebuildTests
{
    private static ReplicaFixture Rebuilding(int id = 0, int clusterSize = 3, Action<PaxosOptions>? configure = null) =>
        new(id, clusterSize, o =>
        {
            o.RebuildFromPeers = true;
            configure?.Invoke(o);
        });

    private static long NonceOf(ReplicaFixture fixture) => fixture.MessagesOf<RebuildQuery>()[0].Nonce;

    [Test]
    public void An_empty_replica_asked_to_rebuild_persists_that_fact_in_its_first_batch()
    {
        // §16.4: the rebuild must survive a crash in the middle of it.
        var fixture = Rebuilding();

        fixture.Status.IsRebuilding.Should().BeTrue();
        fixture.Batches.Should().Contain(b => b.RebuildStarted && b.RequiresSync);
    }

    [Test]
    public void RebuildFromPeers_is_ignored_when_the_storage_holds_state()
    {
        var recovered = new PersistentState { LastInstalled = V(3) };

        var fixture = new ReplicaFixture(0, 3, o => o.RebuildFromPeers = true, recovered);

        fixture.Status.IsRebuilding.Should().BeFalse();
    }

    [Test]
    public void A_recovered_rebuild_marker_keeps_the_replica_rebuilding()
    {
        var fixture = new ReplicaFixture(0, 3, recovered: new PersistentState { RequiresRebuild = true });

        fixture.Status.IsRebuilding.Should().BeTrue();
        fixture.Batches.Should().NotContain(b => b.RebuildStarted, "the marker is already durable");
    }

    [Test]
    public void A_rebuilding_replica_asks_its_peers_with_a_nonce_and_asks_again_with_every_Alive()
    {
        var fixture = Rebuilding(configure: o => o.AliveIntervalTicks = 10);

        var query = fixture.MessagesOf<RebuildQuery>().Should().ContainSingle().Subject;
        fixture.Clear();
        fixture.Tick(10);

        fixture.MessagesOf<RebuildQuery>().Should().ContainSingle().Which.Nonce.Should().Be(query.Nonce);
    }

    [Test]
    public void A_rebuilding_replica_answers_no_Prepare_before_it_knows_its_floor()
    {
        // A Prepare_OK now could promise a view below one it promised before the loss.
        var fixture = Rebuilding();

        fixture.Deliver(new Prepare(R(1), V(1), S(0)));

        fixture.Counters.Dropped(DropReason.Rebuilding).Should().Be(1);
        fixture.MessagesOf<PrepareOk>().Should().BeEmpty();
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);
    }

    [Test]
    public void A_rebuilding_replica_does_not_prepare_a_view_it_leads()
    {
        // As leader, its own (forgotten) history would stand in for a Prepare_OK.
        var fixture = Rebuilding(id: 1);

        fixture.Deliver(new ViewChange(R(0), V(1)));

        fixture.Status.LastAttempted.Should().Be(V(1));
        fixture.MessagesOf<Prepare>().Should().BeEmpty();
        fixture.Status.LastInstalled.Should().Be(ViewNumber.None);
    }

    [Test]
    public void The_floor_is_the_highest_view_attempted_among_fresh_answers_of_N_minus_half_N_peers()
    {
        var fixture = Rebuilding(id: 0, clusterSize: 5);
        var nonce = NonceOf(fixture);

        // Alive messages and answers to another query say nothing about views promised before the loss.
        fixture.Deliver(new Alive(R(1), S(0), V(1)));
        fixture.Deliver(new RebuildReply(R(2), nonce + 1, V(9), V(1), SequenceNumber.None));
        fixture.Deliver(new RebuildReply(R(1), nonce, V(1), V(1), SequenceNumber.None));
        fixture.Deliver(new RebuildReply(R(4), nonce, V(1), V(1), SequenceNumber.None));
        fixture.Deliver(new Prepare(R(1), V(1), S(0)));
        fixture.MessagesOf<PrepareOk>().Should().BeEmpty("two answers of the three needed arrived");
        fixture.Counters.Dropped(DropReason.StaleAnswer).Should().Be(1);

        // Replica 3 attempted view 2 (it voted for it, and 2's leader may hold this replica's old Prepare_OK).
        fixture.Deliver(new RebuildReply(R(3), nonce, V(2), V(1), SequenceNumber.None));

        fixture.Deliver(new VcProof(R(1), V(1), S(1)));
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection, "view 1 lies below the floor 2");
        fixture.Status.LastInstalled.Should().Be(ViewNumber.None);
        fixture.Batches.Should().Contain(b => b.AttemptedView == V(2) && b.RequiresSync, "the floor is persisted as attempted");
    }

    [Test]
    public void At_or_above_the_floor_it_answers_a_Prepare_with_a_Prepare_OK_marked_rebuilding()
    {
        var fixture = Rebuilding(id: 0, clusterSize: 3);
        var nonce = NonceOf(fixture);
        fixture.Deliver(new RebuildReply(R(1), nonce, V(1), V(1), SequenceNumber.None));
        fixture.Deliver(new RebuildReply(R(2), nonce, V(1), V(1), SequenceNumber.None));
        fixture.Deliver(new ViewChange(R(2), V(2)));

        fixture.Deliver(new Prepare(R(2), V(2), S(0)));

        fixture.MessagesOf<PrepareOk>().Should().ContainSingle().Which.Rebuilding.Should().BeTrue();
        fixture.Status.LastInstalled.Should().Be(V(2));
        fixture.Status.IsRebuilding.Should().BeTrue();
    }

    [Test]
    public void A_replica_answers_a_query_with_its_durable_Last_Attempted_and_a_rebuilding_one_does_not_answer()
    {
        var intact = new ReplicaFixture(1, 3, recovered: new PersistentState { LastInstalled = V(1), LastAttempted = V(4) });
        intact.Clear();

        intact.Deliver(new RebuildQuery(R(0), 77));

        var reply = intact.MessagesOf<RebuildReply>().Should().ContainSingle().Subject;
        reply.Nonce.Should().Be(77);
        reply.LastAttempted.Should().Be(V(4), "it attempted view 4 before it restarted");

        var rebuilding = Rebuilding(id: 2);
        rebuilding.Clear();
        rebuilding.Deliver(new RebuildQuery(R(0), 77));
        rebuilding.MessagesOf<RebuildReply>().Should().BeEmpty();
        rebuilding.Counters.Dropped(DropReason.Rebuilding).Should().Be(1);
    }

    [Test]
    public void Above_the_floor_it_votes_again_once_it_executed_the_joined_views_constrained_range()
    {
        var fixture = Rebuilding(id: 0, clusterSize: 3);
        var nonce = NonceOf(fixture);
        fixture.Deliver(new RebuildReply(R(1), nonce, V(1), V(1), SequenceNumber.None));
        fixture.Deliver(new RebuildReply(R(2), nonce, V(1), V(1), SequenceNumber.None));

        // View 4's leader prepared it without this replica: slots up to 2 were constrained.
        fixture.Deliver(new VcProof(R(1), V(4), S(2)));
        fixture.Status.State.Should().Be(ReplicaState.RegularNonLeader);
        fixture.Status.IsRebuilding.Should().BeTrue();

        fixture.Deliver(Ordered(2, 1, U(1, 1)));
        fixture.Status.IsRebuilding.Should().BeTrue("slot 2 is not executed yet");

        fixture.Deliver(Ordered(2, 2, U(2, 1)));
        fixture.Status.IsRebuilding.Should().BeFalse();
        fixture.Batches.Should().Contain(b => b.RebuildCompleted && b.RequiresSync);
        fixture.Counters.RebuildsCompleted.Should().Be(1);

        // Now a Prepare of a later view is answered normally.
        fixture.Clear();
        fixture.TicksUntil(() => fixture.Status.State == ReplicaState.LeaderElection, 5000);
        fixture.Deliver(new Prepare(R(2), V(5), S(2)));
        fixture.MessagesOf<PrepareOk>().Should().ContainSingle().Which.Rebuilding.Should().BeFalse();
    }

    [Test]
    public void In_the_floors_own_view_it_also_waits_for_what_that_views_leader_proposed_after_the_loss()
    {
        // It may have accepted Proposals of the floor's view before the loss, beyond the constrained range; its
        // old Accepts may still be in flight. The leader's fresh answer bounds them.
        var fixture = Rebuilding(id: 0, clusterSize: 3, configure: o => o.AliveIntervalTicks = 10);
        var nonce = NonceOf(fixture);
        fixture.Deliver(new RebuildReply(R(2), nonce, V(1), V(1), SequenceNumber.None));
        fixture.Deliver(new RebuildReply(R(1), nonce, V(1), V(1), S(3)));
        fixture.Deliver(new VcProof(R(1), V(1), S(1)));
        fixture.Status.State.Should().Be(ReplicaState.RegularNonLeader);

        fixture.Deliver(Ordered(2, 1, U(1, 1)));
        fixture.Status.IsRebuilding.Should().BeTrue("view 1's leader had proposed through slot 3");

        fixture.Deliver(Ordered(2, 2, U(2, 1), U(3, 1)));
        fixture.Status.IsRebuilding.Should().BeFalse();
    }

    [Test]
    public void A_regular_leader_gives_way_to_a_view_at_the_floor_of_a_rebuilding_replica()
    {
        // The rebuilding replica may install no view below its floor; a stable view would never end on its own.
        var fixture = LeaderOfView1();

        fixture.Deliver(new RebuildQuery(R(0), 5, V(1)));
        fixture.Status.State.Should().Be(ReplicaState.RegularLeader, "view 1 is not below the floor");

        fixture.Deliver(new RebuildQuery(R(0), 5, V(3)));

        fixture.MessagesOf<RebuildReply>().Should().HaveCount(2);
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);
        fixture.Status.LastAttempted.Should().Be(V(3));
        fixture.Counters.RebuildViewChanges.Should().Be(1);
    }

    [Test]
    public void The_query_carries_the_floor_once_it_is_known()
    {
        var fixture = Rebuilding(id: 0, clusterSize: 3, configure: o => o.AliveIntervalTicks = 10);
        var nonce = NonceOf(fixture);
        fixture.MessagesOf<RebuildQuery>()[0].Floor.Should().Be(ViewNumber.None);
        fixture.Deliver(new RebuildReply(R(1), nonce, V(2), V(1), SequenceNumber.None));
        fixture.Deliver(new RebuildReply(R(2), nonce, V(1), V(1), SequenceNumber.None));
        fixture.Clear();

        fixture.Tick(10);

        fixture.MessagesOf<RebuildQuery>().Should().ContainSingle().Which.Floor.Should().Be(V(2));
    }

    [Test]
    public void A_leader_does_not_count_a_rebuilding_Prepare_OK_towards_the_intact_replicas_it_needs()
    {
        // N = 3: N − ⌊N/2⌋ = 2 intact replicas, the leader included.
        var fixture = new ReplicaFixture(1, 3);
        fixture.Deliver(new ViewChange(R(0), V(1)));
        fixture.Status.LastInstalled.Should().Be(V(1));

        fixture.Deliver(new PrepareOk(R(0), V(1), 0, 1, [], rebuilding: true));
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);

        fixture.Deliver(new PrepareOk(R(2), V(1), 0, 1, []));
        fixture.Status.State.Should().Be(ReplicaState.RegularLeader);
    }

    [Test]
    public void With_two_replicas_the_survivor_and_a_rebuilding_Prepare_OK_prepare_a_view()
    {
        // N = 2: every chosen value is on both, so the intact leader alone remembers it (N − ⌊N/2⌋ = 1).
        var fixture = new ReplicaFixture(1, 2);
        fixture.Deliver(new ViewChange(R(0), V(1)));

        fixture.Deliver(new PrepareOk(R(0), V(1), 0, 1, [], rebuilding: true));

        fixture.Status.State.Should().Be(ReplicaState.RegularLeader);
    }

    [Test]
    public void Storage_keeps_the_rebuild_marker_until_the_rebuild_completes()
    {
        var storage = new InMemoryReplicaStorage();
        var fixture = Rebuilding();
        foreach (var batch in fixture.Batches)
        {
            storage.PersistAsync(batch).AsTask().Wait();
        }

        storage.LoadAsync().AsTask().Result.RequiresRebuild.Should().BeTrue();
    }
}
