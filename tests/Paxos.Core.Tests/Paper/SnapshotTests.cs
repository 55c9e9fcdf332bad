using Paxos.Messages;
using Paxos.Protocol;

using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>Snapshots, the release of the history they cover, and installing a peer's snapshot (docs/protocol-notes.md,
/// "Snapshots and released history").</summary>
public class SnapshotTests
{
    private static void Every3Slots(PaxosOptions options)
    {
        options.SnapshotIntervalSlots = 3;
        options.RetainedSlots = 1;
    }

    /// <summary>A non-leader of view 1 that learns slots 1..<paramref name="count"/> ordered, clients 1..count.</summary>
    private static ReplicaFixture WithOrdered(int count, Action<PaxosOptions>? configure = null)
    {
        var fixture = NonLeaderOfView1(configure: configure ?? Every3Slots);
        fixture.Deliver(Ordered(1, 1, [.. Enumerable.Range(1, count).Select(c => U(c, 1, origin: 1))]));
        return fixture;
    }

    [Test]
    public void A_snapshot_is_taken_every_interval_with_the_client_table_in_client_order()
    {
        var fixture = NonLeaderOfView1(configure: Every3Slots);
        fixture.Deliver(Ordered(1, 1, U(5, 1, origin: 1), U(2, 1, origin: 1)));
        fixture.Batches.Should().OnlyContain(b => b.Snapshot == null, "two slots are fewer than the interval");

        fixture.Deliver(Ordered(1, 3, U(9, 1, origin: 1)));

        var snapshot = fixture.Batches.Select(b => b.Snapshot).Should().ContainSingle(s => s != null).Subject!;
        snapshot.State.Sequence.Should().Be(S(3));
        snapshot.State.ClusterSize.Should().Be(3);
        snapshot.State.Clients.Select(c => (c.Client.Value, c.Timestamp, c.Sequence.Value)).Should().Equal((2, 1, 2), (5, 1, 1), (9, 1, 3));
        fixture.Counters.SnapshotsTaken.Should().Be(1);
    }

    [Test]
    public void The_snapshot_batch_writes_the_pending_updates_again()
    {
        // So that the log older than the snapshot's batch holds nothing the snapshot and the newer log do not.
        var fixture = NonLeaderOfView1(configure: Every3Slots);
        fixture.Submit(U(7, 1)).Should().Be(SubmitStatus.Accepted);
        fixture.Clear();

        fixture.Deliver(Ordered(1, 1, U(1, 1, origin: 1), U(2, 1, origin: 1), U(3, 1, origin: 1)));

        var batch = fixture.Batches.Should().ContainSingle(b => b.Snapshot != null).Subject;
        batch.PendingUpdates.Select(u => u.ToString()).Should().Equal("c7#1");
        batch.RequiresSync.Should().BeTrue();
    }

    [Test]
    public void No_second_snapshot_is_taken_before_the_first_is_acknowledged()
    {
        var fixture = WithOrdered(3);
        fixture.Deliver(Ordered(1, 4, U(4, 1, origin: 1), U(5, 1, origin: 1), U(6, 1, origin: 1), U(7, 1, origin: 1)));
        fixture.Batches.Count(b => b.Snapshot != null).Should().Be(1);

        fixture.Replica.AcknowledgeSnapshot(S(3));
        fixture.Deliver(Ordered(1, 8, U(8, 1, origin: 1)));

        fixture.Batches.Where(b => b.Snapshot != null).Select(b => b.Snapshot!.State.Sequence.Value).Should().Equal(3, 8);
    }

    [Test]
    public void Acknowledging_a_snapshot_releases_the_history_below_it_less_the_retained_slots()
    {
        var fixture = WithOrdered(3);
        fixture.Replica.ReleasedThrough.Should().Be(S(0), "nothing is released before the snapshot is durable");

        fixture.Replica.AcknowledgeSnapshot(S(3));

        fixture.Replica.ReleasedThrough.Should().Be(S(2));
        fixture.Counters.SlotsReleased.Should().Be(2);
        fixture.Invoking(f => f.Replica.AcknowledgeSnapshot(S(3))).Should().Throw<ArgumentOutOfRangeException>("it was acknowledged already");
    }

    [Test]
    public void A_snapshot_taken_before_a_peers_newer_snapshot_was_installed_is_still_acknowledged()
    {
        // Simulation seed 1000224: the host makes a snapshot durable once its batch is (later, on a slow disk), and the
        // replica may install a newer one from a peer meanwhile; the older one's acknowledgement must still be taken.
        var fixture = WithOrdered(3);
        fixture.Replica.InstallSnapshot(Stored(10, [.. Enumerable.Range(1, 10).Select(i => (long)i)])).Should().BeTrue();

        fixture.Invoking(f => f.Replica.AcknowledgeSnapshot(S(3))).Should().NotThrow();

        fixture.Replica.ReleasedThrough.Should().Be(S(10), "the installed snapshot released more");
        fixture.Deliver(Ordered(1, 11, U(11, 1, origin: 1), U(12, 1, origin: 1), U(13, 1, origin: 1)));
        fixture.Batches.Where(b => b.Snapshot != null).Select(b => b.Snapshot!.State.Sequence.Value).Should().Equal(3, 13);
    }

    [Test]
    public void A_catch_up_request_for_released_slots_is_answered_with_a_snapshot_offer()
    {
        var fixture = WithOrdered(3);
        fixture.Replica.AcknowledgeSnapshot(S(3));
        fixture.Clear();

        fixture.Deliver(new CatchUpRequest(R(2), S(2), S(3)));

        fixture.Batches.Should().ContainSingle().Which.SnapshotOffers.Should().Equal(R(2));
        fixture.Sent.Should().BeEmpty("the released slots cannot be sent, and the retained ones alone leave a gap");
        fixture.Counters.SnapshotsOffered.Should().Be(1);

        fixture.Clear().Deliver(new CatchUpRequest(R(2), S(3), S(3)));
        fixture.MessagesOf<GloballyOrderedUpdate>().Should().ContainSingle().Which.FirstSequence.Should().Be(S(3), "a retained slot is served from the log");
    }

    [Test]
    public void A_prepare_from_a_leader_below_the_released_slots_is_rejected()
    {
        // Released slots can no longer be reported in a data list: the leader must learn them first.
        var fixture = WithOrdered(3);
        fixture.Replica.AcknowledgeSnapshot(S(3));
        fixture.Tick(fixture.TicksUntil(() => fixture.Status.State == ReplicaState.LeaderElection, 10_000));
        var view = fixture.Status.LastAttempted;
        var leader = (int)(view.Value % 3);
        if (leader == 0)
        {
            view = view.Next;
            leader = (int)(view.Value % 3);
            fixture.Deliver(new ViewChange(R(leader), view), new ViewChange(R(leader == 1 ? 2 : 1), view));
        }

        fixture.Clear().Deliver(new Prepare(R(leader), view, S(1)));

        fixture.SentOf<PrepareReject>().Should().ContainSingle().Which.To.Should().Be(R(leader));
        fixture.SentOf<PrepareOk>().Should().BeEmpty();
    }

    [Test]
    public void Installing_a_peers_snapshot_restores_the_executor_and_the_client_table()
    {
        var fixture = NonLeaderOfView1(configure: Every3Slots);
        var snapshot = Stored(10, [.. Enumerable.Range(1, 10).Select(i => (long)i)], new ClientTableEntry(new ClientId(4), 3, S(9), new byte[] { 42 }));

        fixture.Replica.InstallSnapshot(snapshot).Should().BeTrue();

        fixture.Status.LocalAru.Should().Be(S(10));
        fixture.Executor.Restored.Should().Equal(10);
        fixture.Replica.ReleasedThrough.Should().Be(S(10));
        fixture.Counters.SnapshotsInstalled.Should().Be(1);

        // The client table came with it: a retry of client 4's last update is answered from it, not executed.
        fixture.Clear();
        fixture.Submit(U(4, 3)).Should().Be(SubmitStatus.AlreadyExecuted);
        fixture.Replies.Should().ContainSingle().Which.Result.ToArray().Should().Equal(42);

        // And ordering goes on from the slot after it.
        fixture.Deliver(Ordered(1, 11, U(8, 1, origin: 1)));
        fixture.Status.LocalAru.Should().Be(S(11));
        fixture.Executor.ExecutedNames.Should().Equal("c8#1@11");
        fixture.Replica.InstallSnapshot(snapshot).Should().BeFalse("a snapshot at or below Local_Aru changes nothing");
    }

    [Test]
    public void Installing_answers_the_local_updates_the_snapshot_shows_executed()
    {
        var fixture = NonLeaderOfView1(configure: Every3Slots);
        fixture.Submit(U(4, 3)).Should().Be(SubmitStatus.Accepted);
        fixture.Clear();

        fixture.Replica.InstallSnapshot(Stored(10, [1], new ClientTableEntry(new ClientId(4), 3, S(9), new byte[] { 7 })));
        fixture.Flush();

        var reply = fixture.Replies.Should().ContainSingle().Subject;
        (reply.ClientId, reply.Timestamp, reply.Sequence, reply.Status).Should().Be((new ClientId(4), 3L, S(9), ReplyStatus.Executed));
        fixture.Status.PendingUpdates.Should().Be(0);
    }

    [Test]
    public void The_client_tables_expiry_mark_travels_with_the_snapshot()
    {
        // A client the snapshot's replica forgot must stay forgotten here: its late retry is refused, not executed.
        var fixture = NonLeaderOfView1(configure: Every3Slots);
        var snapshot = new StoredSnapshot(
            new SnapshotState { Sequence = S(10), ClusterSize = 3, ClientsExpiredThrough = 5 },
            () => new MemoryStream(TestExecutor.SnapshotBytes([])));

        fixture.Replica.InstallSnapshot(snapshot);

        fixture.Status.ExpiredThrough.Should().Be(5);
        fixture.Submit(U(99, 5)).Should().Be(SubmitStatus.Expired);
        fixture.Submit(U(99, 6)).Should().Be(SubmitStatus.Accepted, "above the mark it may be a new session");
    }

    [Test]
    public void A_snapshot_of_another_cluster_size_is_refused()
    {
        var fixture = NonLeaderOfView1(configure: Every3Slots);
        var snapshot = new StoredSnapshot(new SnapshotState { Sequence = S(5), ClusterSize = 5 }, () => new MemoryStream(TestExecutor.SnapshotBytes([])));

        fixture.Invoking(f => f.Replica.InstallSnapshot(snapshot)).Should().Throw<InvalidOperationException>().WithMessage("*5 replicas*3*");
    }

    [Test]
    public void Recovery_restores_the_snapshot_and_replays_only_the_log_after_it()
    {
        var recovered = new PersistentState
        {
            LastInstalled = V(1),
            Snapshot = Stored(4, [1, 2, 3, 4], new ClientTableEntry(new ClientId(1), 1, S(4), new byte[] { 1 })),
            OrderedSlots =
            [
                new OrderedSlot(S(3), U(3, 1, origin: 1)), // Covered by the snapshot: ignored.
                new OrderedSlot(S(5), U(5, 1, origin: 1)),
                new OrderedSlot(S(6), U(6, 1, origin: 1)),
            ],
        };

        var fixture = new ReplicaFixture(0, configure: Every3Slots, recovered: recovered);

        fixture.Status.LocalAru.Should().Be(S(6));
        fixture.Executor.Restored.Should().Equal(4);
        fixture.Executor.ExecutedNames.Should().Equal("c5#1@5", "c6#1@6");
        fixture.Batches.Should().OnlyContain(b => b.Snapshot == null, "no snapshot is taken while the log is replayed");
    }

    private static StoredSnapshot Stored(long sequence, long[] executed, params ClientTableEntry[] clients) =>
        new(new SnapshotState { Sequence = S(sequence), ClusterSize = 3, Clients = clients }, () => new MemoryStream(TestExecutor.SnapshotBytes(executed)));
}
