using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>PROTOCOL.md §16.4 / G16: a replica whose storage was lost rebuilds from its peers and never votes
/// on state it forgot.</summary>
public class RebuildTests
{
    private static ReplicaFixture Rebuilding(int id = 0, int clusterSize = 3) =>
        new(id, clusterSize, o => o.RebuildFromPeers = true);

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
    public void A_rebuilding_replica_never_answers_a_Prepare()
    {
        // §16.4: a Prepare_OK would vote on state it forgot.
        var fixture = Rebuilding();

        fixture.Deliver(new Prepare(R(1), V(1), S(0)));

        fixture.Counters.Dropped(DropReason.Rebuilding).Should().Be(1);
        fixture.MessagesOf<PrepareOk>().Should().BeEmpty();
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);
    }

    [Test]
    public void A_rebuilding_replica_does_not_prepare_a_view_it_leads()
    {
        // §16.4: as leader, its own (forgotten) history would stand in for a Prepare_OK.
        var fixture = Rebuilding(id: 1);

        fixture.Deliver(new ViewChange(R(0), V(1)));

        fixture.Status.LastAttempted.Should().Be(V(1));
        fixture.MessagesOf<Prepare>().Should().BeEmpty();
        fixture.Status.LastInstalled.Should().Be(ViewNumber.None);
    }

    [Test]
    public void It_joins_a_view_only_after_hearing_enough_peers_and_only_from_that_views_leader()
    {
        var fixture = Rebuilding(id: 0, clusterSize: 3);

        // N − ⌊N/2⌋ = 2 other replicas must be heard before the view floor is known.
        fixture.Deliver(new VcProof(R(1), V(4), S(10)));
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);

        fixture.Deliver(new Alive(R(2), S(10), V(4)));
        fixture.Deliver(new VcProof(R(2), V(4))); // Not the leader of view 4 (4 mod 3 = 1).
        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);

        fixture.Deliver(new VcProof(R(1), V(4), S(10)));
        fixture.Status.State.Should().Be(ReplicaState.RegularNonLeader);
        fixture.Status.LastInstalled.Should().Be(V(4));
        fixture.Status.IsRebuilding.Should().BeTrue("it has not executed through slot 10 yet");
    }

    [Test]
    public void It_never_joins_a_view_below_what_the_others_installed()
    {
        var fixture = Rebuilding(id: 0, clusterSize: 3);
        fixture.Deliver(new Alive(R(2), S(0), V(7)));
        fixture.Deliver(new Alive(R(1), S(0), V(4)));

        fixture.Deliver(new VcProof(R(1), V(4), S(0))); // A stale leader of view 4.

        fixture.Status.State.Should().Be(ReplicaState.LeaderElection);
        fixture.Counters.Dropped(DropReason.Rebuilding).Should().BeGreaterThan(0);
    }

    [Test]
    public void It_votes_again_once_it_executed_everything_the_leader_had_proposed()
    {
        var fixture = Rebuilding(id: 0, clusterSize: 3);
        fixture.Deliver(new Alive(R(2), S(2), V(1)));
        fixture.Deliver(new VcProof(R(1), V(1), S(2)));
        fixture.Status.IsRebuilding.Should().BeTrue();

        fixture.Deliver(Ordered(2, 1, U(1, 1), U(2, 1)));

        fixture.Status.IsRebuilding.Should().BeFalse();
        fixture.Batches.Should().Contain(b => b.RebuildCompleted && b.RequiresSync);
        fixture.Counters.RebuildsCompleted.Should().Be(1);

        // Now a Prepare of a later view is answered: let the leader be suspected, then prepare view 2.
        fixture.TicksUntil(() => fixture.Status.State == ReplicaState.LeaderElection, 5000);
        fixture.Status.LastAttempted.Should().Be(V(2));
        fixture.Deliver(new Prepare(R(2), V(2), S(2)));
        fixture.MessagesOf<PrepareOk>().Should().ContainSingle();
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
