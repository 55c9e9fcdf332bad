using Paxos.Messages;
using Paxos.Protocol;

using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>
/// The client table's bound (G13 with expiry; docs/protocol-notes.md, "Client table bound and expiry"): a client whose
/// last update executed <c>ClientExpirySlots</c> slots ago is forgotten before the next slot executes, on every replica
/// at the same slot; an update of a forgotten client at or below the expiry mark is refused, never executed.
/// </summary>
public class ClientExpiryTests
{
    [Test]
    public void A_client_is_forgotten_at_the_same_slot_on_every_replica()
    {
        // Slot 4 executes ClientExpirySlots = 3 slots after client 1's last update (slot 1): before it runs, both
        // replicas forget client 1 and raise the expiry mark to its timestamp; before slot 5, client 2 goes the same way.
        var replicas = new[] { NonLeaderOfView1(0, configure: o => o.ClientExpirySlots = 3), NonLeaderOfView1(2, configure: o => o.ClientExpirySlots = 3) };
        ClientUpdate[] slots = [U(1, 1, origin: 1), U(2, 2, origin: 1), U(3, 3, origin: 1), ClientUpdate.NoOp, U(3, 4, origin: 1)];
        (int Count, long Mark)[] expected = [(1, 0), (2, 0), (3, 0), (2, 1), (1, 2)];

        for (var i = 0; i < slots.Length; i++)
        {
            foreach (var replica in replicas)
            {
                replica.Deliver(Proposal(1, 1, i + 1, slots[i]));
                replica.Status.LocalAru.Should().Be(S(i + 1));
                (replica.Status.ClientTableCount, replica.Status.ExpiredThrough).Should().Be(expected[i], $"after slot {i + 1} at {replica.Id}");
            }
        }

        foreach (var replica in replicas)
        {
            replica.Replica.ClientTableInExecutionOrder().Select(e => $"c{e.Client.Value}#{e.Record.Timestamp}@{e.Record.Sequence}").Should().Equal("c3#4@5");
            replica.Counters.ClientsExpired.Should().Be(2);
        }
    }

    [Test]
    public void A_late_retry_after_expiry_is_refused_on_every_replica_and_never_executes_twice()
    {
        // Client 1's c1#1 executes at slot 1 (origin replica 0 answers it). Two slots later the table forgets client 1
        // (ClientExpirySlots = 2), so a retry of c1#1 looks like a first update; the expiry mark (1) refuses it: at once
        // at Submit, and at slot 4 when a late copy is ordered — on both replicas, consuming the slot.
        var origin = NonLeaderOfView1(0, configure: o => o.ClientExpirySlots = 2);
        var other = NonLeaderOfView1(2, configure: o => o.ClientExpirySlots = 2);
        origin.Submit(U(1, 1)).Should().Be(SubmitStatus.Accepted);
        var copy = origin.MessagesOf<ClientUpdateForward>().Single().Updates.Single();
        ClientUpdate[] slots = [copy, U(2, 1, origin: 1), U(2, 2, origin: 1)];
        for (var i = 0; i < slots.Length; i++)
        {
            origin.Deliver(Proposal(1, 1, i + 1, slots[i]));
            other.Deliver(Proposal(1, 1, i + 1, slots[i]));
        }

        origin.Replies.Should().ContainSingle().Which.Status.Should().Be(ReplyStatus.Executed);
        origin.Status.ExpiredThrough.Should().Be(1);
        origin.Clear();

        origin.Submit(U(1, 1)).Should().Be(SubmitStatus.Expired, "the table forgot client 1 and cannot tell that c1#1 executed");
        origin.Replies.Should().ContainSingle().Which.Should().Match<ClientReply>(r => r.Status == ReplyStatus.Expired && r.Sequence == SequenceNumber.None);
        origin.PendingUpdates.Should().BeEmpty("a refused update is not taken on");
        origin.Counters.ExpiredSubmissionsRefused.Should().Be(1);

        foreach (var replica in new[] { origin, other })
        {
            replica.Deliver(Proposal(1, 1, 4, copy));
            replica.Status.LocalAru.Should().Be(S(4), "the refused update's slot is consumed");
            replica.Executor.History.Select(u => $"c{u.ClientId.Value}#{u.Timestamp}@{u.Sequence.Value}").Should().Equal("c1#1@1", "c2#1@2", "c2#2@3");
            replica.Counters.ExpiredUpdatesRefused.Should().Be(1);
            replica.Status.ClientTableCount.Should().Be(1);
        }
    }

    [Test]
    public void An_update_pending_while_its_timestamp_falls_below_the_mark_is_answered_expired_at_its_slot()
    {
        // Client 1 took timestamp 3 before anything expired. Client 9, at timestamp 5, is forgotten before c1#3 is
        // ordered, so the mark (5) covers it: the slot refuses it everywhere, and the origin answers its waiting client.
        var origin = NonLeaderOfView1(0, configure: o => o.ClientExpirySlots = 2);
        origin.Submit(U(1, 3)).Should().Be(SubmitStatus.Accepted);
        var pending = origin.MessagesOf<ClientUpdateForward>().Single().Updates.Single();
        origin.Deliver(Proposal(1, 1, 1, U(9, 5, origin: 1), U(2, 1, origin: 1), U(2, 2, origin: 1)));
        origin.Status.ExpiredThrough.Should().Be(5);
        origin.Clear();

        origin.Deliver(Proposal(1, 1, 4, pending));

        origin.Replies.Should().ContainSingle().Which.Should().Match<ClientReply>(r => r.Timestamp == 3 && r.Status == ReplyStatus.Expired && r.Sequence == S(4));
        origin.Status.PendingUpdates.Should().Be(0);
        origin.Executor.History.Should().NotContain(u => u.ClientId == new ClientId(1));
    }

    [Test]
    public void A_new_session_above_the_mark_executes()
    {
        // What a client does after Expired: start again at ReplicaStatus.SessionStartTimestamp.
        var fixture = NonLeaderOfView1(configure: o => o.ClientExpirySlots = 1);
        fixture.Deliver(Proposal(1, 1, 1, U(1, 1, origin: 1), U(2, 2, origin: 1)));
        fixture.Status.ExpiredThrough.Should().Be(1);
        var start = fixture.Status.SessionStartTimestamp;
        start.Should().Be(3);
        fixture.Clear();

        fixture.Submit(U(1, start)).Should().Be(SubmitStatus.Accepted);
        fixture.Deliver(Proposal(1, 1, 3, fixture.MessagesOf<ClientUpdateForward>().Single().Updates.Single()));

        fixture.Replies.Should().ContainSingle().Which.Should().Match<ClientReply>(r => r.Status == ReplyStatus.Executed && r.Sequence == S(3));
    }

    [Test]
    public void Replaying_the_log_after_a_restart_reaches_the_same_table()
    {
        // G14 with expiry: the table is a function of the ordered history, so a replica that replays its log forgets
        // the same clients, refuses the same updates and keeps the same entries, in the same order.
        var live = NonLeaderOfView1(configure: o => o.ClientExpirySlots = 4);
        var random = new Random(7);
        for (var sequence = 1; sequence <= 60; sequence++)
        {
            var client = random.Next(1, 12);
            var update = random.Next(0, 6) == 0 ? ClientUpdate.NoOp : U(client, random.Next(1, 40), origin: 1);
            live.Deliver(Proposal(1, 1, sequence, update));
        }

        var log = new PersistentState { LastInstalled = V(1), OrderedSlots = live.OrderedSlots.ToList() };
        var recovered = new ReplicaFixture(0, configure: o => o.ClientExpirySlots = 4, recovered: log);

        live.Counters.ExpiredUpdatesRefused.Should().BePositive("the history refuses some updates");
        recovered.Status.LocalAru.Should().Be(S(60));
        recovered.Replica.ClientTableInExecutionOrder().Select(Describe).Should().Equal(live.Replica.ClientTableInExecutionOrder().Select(Describe));
        recovered.Status.ExpiredThrough.Should().Be(live.Status.ExpiredThrough);
        recovered.Executor.History.Select(u => u.Sequence).Should().Equal(live.Executor.History.Select(u => u.Sequence));
        recovered.Counters.ClientsExpired.Should().Be(live.Counters.ClientsExpired);
        recovered.Counters.ExpiredUpdatesRefused.Should().Be(live.Counters.ExpiredUpdatesRefused);
    }

    [Test]
    public void The_bound_holds_under_a_stream_of_fresh_client_ids()
    {
        // The consumer: a new client id for every update. Each starts its session at SessionStartTimestamp; the
        // leader's table and its Last_Enqueued[] stay within ClientExpirySlots however many clients come and go.
        var leader = LeaderOfView1(configure: o => o.ClientExpirySlots = 16);
        for (var client = 1; client <= 1000; client++)
        {
            leader.Replica.Step(new ClientUpdateForward(R(0), [U(client, leader.Status.SessionStartTimestamp, origin: 0)]));
            leader.Flush();
            var proposal = leader.MessagesOf<Proposal>()[^1];
            leader.Deliver(Accept(0, 1, proposal.FirstSequence.Value));
            leader.Clear();

            leader.Status.ClientTableCount.Should().BeLessThanOrEqualTo(16);
            leader.Replica.LastEnqueuedCount.Should().BeLessThanOrEqualTo(1);
        }

        leader.Status.LocalAru.Should().Be(S(1000));
        leader.Counters.UpdatesExecuted.Should().Be(1000, "every session started at SessionStartTimestamp executes");
        leader.Status.ClientTableCount.Should().Be(16);
        leader.Counters.ClientsExpired.Should().Be(984);
    }

    private static string Describe((ClientId Client, ClientRecord Record) entry) =>
        $"c{entry.Client.Value}#{entry.Record.Timestamp}@{entry.Record.Sequence}={System.Text.Encoding.ASCII.GetString(entry.Record.Result.Span)}";
}
