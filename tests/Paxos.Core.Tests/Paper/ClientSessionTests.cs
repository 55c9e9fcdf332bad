using Paxos.Messages;
using Paxos.Protocol;
using Paxos.Storage;

using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>
/// Client sessions through the log (docs/protocol-notes.md, "Client sessions"): a registration is an ordered update the
/// executor never sees; it creates session 2^62 | its slot on every replica, and a retry with its nonce gets the same
/// session. A session's updates execute only in order (last + 1); an unknown or expired session is refused; an update
/// the executor rejects counts as executed and its rejection is replayed from the client table.
/// </summary>
public class ClientSessionTests
{
    private const long Nonce = ClientSession.RegistrationBit | 0x1234_5678;

    private static ClientUpdate Registration(long nonce = Nonce, int origin = 1) =>
        ClientSession.RegistrationUpdate(nonce).WithOrigin(R(origin));

    private static ClientUpdate SessionUpdate(ClientId session, long timestamp, int origin = 1) =>
        new(session, timestamp, new byte[] { (byte)timestamp }, R(origin), validate: true);

    [Test]
    public void A_registration_creates_the_same_session_on_every_replica_without_the_executor()
    {
        // Slot 2 holds the registration: both replicas make session 2^62 | 2, the nonce's reply names it, and the
        // executor sees only the plain update at slot 1.
        var replicas = new[] { NonLeaderOfView1(0), NonLeaderOfView1(2) };
        foreach (var replica in replicas)
        {
            replica.Deliver(Proposal(1, 1, 1, U(7, 1, origin: 1), Registration()));

            replica.Status.LocalAru.Should().Be(S(2));
            replica.Executor.ExecutedNames.Should().Equal("c7#1@1");
            replica.Counters.SessionsRegistered.Should().Be(1);
            var table = replica.Replica.ClientTableInExecutionOrder().ToList();
            var nonce = table.Single(e => e.Client == new ClientId(Nonce)).Record;
            ClientSession.SessionIdOf(nonce.Result.Span).Should().Be(ClientSession.SessionAt(2));
            table.Should().ContainSingle(e => e.Client == ClientSession.SessionAt(2)).Which.Record.Timestamp.Should().Be(0);
        }
    }

    [Test]
    public void A_retried_registration_with_the_same_nonce_gets_the_same_session_exactly_once()
    {
        // The origin answers its client once the registration executes; a second ordered copy (a retry through another
        // replica) is a duplicate; a third submission is answered from the table with the same session id.
        var origin = NonLeaderOfView1(0);
        origin.Submit(ClientSession.RegistrationUpdate(Nonce)).Should().Be(SubmitStatus.Accepted);
        var copy = origin.MessagesOf<ClientUpdateForward>().Single().Updates.Single();
        origin.Deliver(Proposal(1, 1, 1, copy, U(3, 1, origin: 1), Registration(origin: 2)));

        var reply = origin.Replies.Should().ContainSingle().Subject;
        reply.Status.Should().Be(ReplyStatus.Executed);
        ClientSession.SessionIdOf(reply.Result.Span).Should().Be(ClientSession.SessionAt(1));
        origin.Counters.SessionsRegistered.Should().Be(1);
        origin.Counters.DuplicatesSuppressed.Should().Be(1);
        origin.Clear();

        origin.Submit(ClientSession.RegistrationUpdate(Nonce)).Should().Be(SubmitStatus.AlreadyExecuted);
        ClientSession.SessionIdOf(origin.Replies.Single().Result.Span).Should().Be(ClientSession.SessionAt(1));
    }

    [Test]
    public void Session_updates_execute_in_order_and_a_retry_is_answered_from_the_table()
    {
        var fixture = NonLeaderOfView1();
        var session = ClientSession.SessionAt(1);
        fixture.Deliver(Proposal(1, 1, 1, Registration(), SessionUpdate(session, 1), SessionUpdate(session, 2), SessionUpdate(session, 2)));

        fixture.Executor.ExecutedNames.Should().Equal($"c{session.Value}#1@2", $"c{session.Value}#2@3");
        fixture.Counters.DuplicatesSuppressed.Should().Be(1);
        fixture.Clear();

        fixture.Submit(SessionUpdate(session, 2, origin: -1)).Should().Be(SubmitStatus.AlreadyExecuted);
        fixture.Replies.Single().Should().Match<ClientReply>(r => r.Status == ReplyStatus.Executed && r.Sequence == S(3));
    }

    [Test]
    public void A_session_update_that_skips_a_timestamp_is_refused_and_leaves_the_table_unchanged()
    {
        // Timestamp 3 after 1: refused at its slot on every replica (the origin tells its client), not executed; the
        // session's next update is still 2.
        var origin = NonLeaderOfView1(0);
        var other = NonLeaderOfView1(2);
        var session = ClientSession.SessionAt(1);
        foreach (var replica in new[] { origin, other })
        {
            replica.Deliver(Proposal(1, 1, 1, Registration(), SessionUpdate(session, 1)));
        }

        origin.Submit(new ClientUpdate(session, 3, new byte[] { 3 })).Should().Be(SubmitStatus.Accepted, "a lagging replica cannot tell a gap at submission");
        var gap = origin.MessagesOf<ClientUpdateForward>().Single().Updates.Single();
        foreach (var replica in new[] { origin, other })
        {
            replica.Deliver(Proposal(1, 1, 3, gap, SessionUpdate(session, 2)));
            replica.Status.LocalAru.Should().Be(S(4));
            replica.Executor.ExecutedNames.Should().Equal($"c{session.Value}#1@2", $"c{session.Value}#2@4");
            replica.Counters.OutOfOrderUpdatesRefused.Should().Be(1);
        }

        origin.Replies.Should().ContainSingle().Which.Should().Match<ClientReply>(r => r.Status == ReplyStatus.OutOfOrder && r.Sequence == S(3) && r.Timestamp == 3);
        origin.Status.PendingUpdates.Should().Be(0);
    }

    [Test]
    public void An_update_of_an_unknown_session_is_refused_at_submission_and_at_its_slot()
    {
        // Session 2^62 | 1 was never registered (slot 1 holds a plain update): Submit refuses it at once, since slot 1
        // executed here; a copy ordered anyway is refused at its slot, whatever the expiry mark.
        var fixture = NonLeaderOfView1();
        var unknown = ClientSession.SessionAt(1);
        fixture.Deliver(Proposal(1, 1, 1, U(4, 1, origin: 1)));
        fixture.Status.ExpiredThrough.Should().Be(0);
        fixture.Clear();

        fixture.Submit(new ClientUpdate(unknown, 1, new byte[] { 1 })).Should().Be(SubmitStatus.Expired);
        fixture.Replies.Single().Status.Should().Be(ReplyStatus.Expired);

        // A session id naming a slot not reached yet was never registered either: its slot refuses it too.
        fixture.Deliver(Proposal(1, 1, 2, SessionUpdate(unknown, 1), SessionUpdate(ClientSession.SessionAt(9), 1)));
        fixture.Status.LocalAru.Should().Be(S(3));
        fixture.Executor.History.Select(u => u.ClientId.Value).Should().Equal(4);
        fixture.Counters.ExpiredUpdatesRefused.Should().Be(2);
    }

    [Test]
    public void A_session_registered_at_a_slot_not_yet_executed_here_is_taken_at_submission()
    {
        // A lagging replica must not refuse a session the cluster registered beyond its own Local_Aru.
        var fixture = NonLeaderOfView1();
        fixture.Submit(new ClientUpdate(ClientSession.SessionAt(5), 1, new byte[] { 1 })).Should().Be(SubmitStatus.Accepted);
    }

    [Test]
    public void An_idle_session_expires_on_every_replica_and_its_updates_are_refused_without_raising_the_mark()
    {
        // ClientExpirySlots = 2: the session (and its nonce) registered at slot 1 are forgotten before slot 3; the mark
        // stays at 0 (sessions live outside it), and the session's next update is refused as expired.
        var replicas = new[] { NonLeaderOfView1(0, configure: o => o.ClientExpirySlots = 2), NonLeaderOfView1(2, configure: o => o.ClientExpirySlots = 2) };
        var session = ClientSession.SessionAt(1);
        foreach (var replica in replicas)
        {
            replica.Deliver(Proposal(1, 1, 1, Registration(), U(8, 1, origin: 1), U(8, 2, origin: 1), SessionUpdate(session, 1)));

            replica.Status.ExpiredThrough.Should().Be(0);
            replica.Executor.ExecutedNames.Should().Equal("c8#1@2", "c8#2@3");
            replica.Counters.ExpiredUpdatesRefused.Should().Be(1);
            replica.Replica.ClientTableInExecutionOrder().Should().NotContain(e => e.Client == session);
        }

        replicas[0].Clear();
        replicas[0].Submit(new ClientUpdate(session, 1, new byte[] { 1 })).Should().Be(SubmitStatus.Expired);
    }

    [Test]
    public void A_rejected_update_counts_as_executed_and_a_retry_gets_the_same_rejection()
    {
        var origin = NonLeaderOfView1(0);
        origin.Executor.RejectWhen = u => u.ClientId == new ClientId(5);
        origin.Submit(U(5, 1)).Should().Be(SubmitStatus.Accepted);
        var copy = origin.MessagesOf<ClientUpdateForward>().Single().Updates.Single();
        origin.Deliver(Proposal(1, 1, 1, copy, U(6, 1, origin: 1)));

        var reply = origin.Replies.Should().ContainSingle().Subject;
        reply.Status.Should().Be(ReplyStatus.Rejected);
        reply.Sequence.Should().Be(S(1));
        reply.Result.ToArray().Should().Equal("no1"u8.ToArray());
        origin.Counters.UpdatesRejected.Should().Be(1);
        origin.Executor.ExecutedNames.Should().Equal("c6#1@2");
        origin.Clear();

        origin.Submit(U(5, 1)).Should().Be(SubmitStatus.AlreadyExecuted);
        var again = origin.Replies.Single();
        (again.Status, again.Sequence).Should().Be((ReplyStatus.Rejected, S(1)));
        again.Result.ToArray().Should().Equal("no1"u8.ToArray());
        origin.Deliver(Proposal(1, 1, 3, copy));
        origin.Counters.UpdatesRejected.Should().Be(1, "an ordered duplicate is not executed, nor rejected, again");
    }

    [Test]
    public void Any_other_executor_exception_stops_the_replica()
    {
        // Fail-stop stays the default: only UpdateRejectedException is a deterministic answer.
        var fixture = NonLeaderOfView1();
        fixture.Executor.FailWhen = _ => true;

        fixture.Invoking(f => f.Deliver(Proposal(1, 1, 1, U(1, 1, origin: 1)))).Should().Throw<Exception>();
        fixture.Replica.IsFaulted.Should().BeTrue();
    }

    [Test]
    public void Sessions_and_rejections_survive_a_snapshot_written_and_read_back()
    {
        // Registration at 1, session update 1 at 2, a rejected update at 3: the snapshot at 3 goes through the file
        // format into a fresh replica, which answers the nonce, the session and the rejection as the first does.
        static void Configure(PaxosOptions o)
        {
            o.SnapshotIntervalSlots = 3;
            o.RetainedSlots = 1;
        }

        var session = ClientSession.SessionAt(1);
        var first = NonLeaderOfView1(0, configure: Configure);
        first.Executor.RejectWhen = u => u.ClientId == new ClientId(9);
        first.Deliver(Proposal(1, 1, 1, Registration(), SessionUpdate(session, 1), U(9, 1, origin: 1)));
        var taken = first.Batches.Select(b => b.Snapshot).Single(s => s != null)!;
        taken.State.Clients.Should().Contain(e => e.Client == new ClientId(9) && e.Rejected);

        using var file = new MemoryStream();
        SnapshotFormat.Write(file, taken);
        var bytes = file.ToArray();
        var stored = SnapshotFormat.Read(() => new MemoryStream(bytes));
        static string Row(ClientTableEntry e) => $"{e.Client.Value}#{e.Timestamp}@{e.Sequence.Value} {Convert.ToHexString(e.Result.Span)} {e.Rejected}";
        stored.State.Clients.Select(Row).Should().Equal(taken.State.Clients.Select(Row));

        var second = NonLeaderOfView1(2, configure: Configure);
        second.Replica.InstallSnapshot(stored).Should().BeTrue();
        second.Replica.ClientTableInExecutionOrder().Select(e => (e.Client, e.Record.Timestamp, e.Record.Sequence, e.Record.Rejected))
            .Should().Equal(first.Replica.ClientTableInExecutionOrder().Select(e => (e.Client, e.Record.Timestamp, e.Record.Sequence, e.Record.Rejected)));
        second.Clear();

        second.Submit(ClientSession.RegistrationUpdate(Nonce)).Should().Be(SubmitStatus.AlreadyExecuted);
        second.Submit(U(9, 1)).Should().Be(SubmitStatus.AlreadyExecuted);
        second.Replies.Select(r => r.Status).Should().Equal(ReplyStatus.Executed, ReplyStatus.Rejected);
        ClientSession.SessionIdOf(second.Replies.First().Result.Span).Should().Be(session);

        second.Deliver(Proposal(1, 1, 4, SessionUpdate(session, 3), SessionUpdate(session, 2)));
        second.Executor.ExecutedNames.Should().Equal($"c{session.Value}#2@5");
        second.Counters.OutOfOrderUpdatesRefused.Should().Be(1);
    }

    [Test]
    public void A_version_1_snapshot_is_still_read()
    {
        var state = new SnapshotState { Sequence = S(4), ClusterSize = 3, Clients = [new ClientTableEntry(new ClientId(2), 1, S(3), new byte[] { 1 })] };
        using var file = new MemoryStream();
        SnapshotFormat.Write(file, new TakenSnapshot(state, new EmptyCapture(), 1));
        var bytes = file.ToArray();
        bytes[4] = 1; // Version 1 has the same layout without the rejected flag; its checksum covers the header.
        var crc = Paxos.Diagnostics.Crc32C.Compute(bytes.AsSpan(0, bytes.Length - 4));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4), crc);

        var read = SnapshotFormat.Read(() => new MemoryStream(bytes));

        read.State.Clients.Should().ContainSingle().Which.Rejected.Should().BeFalse();
    }

    [Test]
    public void Application_client_ids_stay_below_the_registration_range()
    {
        var act = () => new ClientUpdate(new ClientId(ClientSession.RegistrationBit | 5), 1, ReadOnlyMemory<byte>.Empty);
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*registration nonces*");
        new ClientUpdate(new ClientId(ClientSession.MaxApplicationClientId), 1, ReadOnlyMemory<byte>.Empty).ClientId.Value.Should().Be((1L << 61) - 1);
        new ClientUpdate(ClientSession.SessionAt(3), 1, ReadOnlyMemory<byte>.Empty).ClientId.Should().Be(ClientSession.SessionAt(3));
        var registration = () => ClientSession.RegistrationUpdate(5);
        registration.Should().Throw<ArgumentOutOfRangeException>();
        ClientSession.IsRegistrationNonce(ClientSession.NewRegistrationNonce()).Should().BeTrue();
    }

    [Test]
    public void A_forwarded_registration_with_a_payload_is_dropped_as_malformed()
    {
        var leader = LeaderOfView1();
        var bad = new ClientUpdate(new ClientId(Nonce), 2, new byte[] { 1 }, R(0), validate: false);
        leader.Deliver(new ClientUpdateForward(R(0), [bad]));
        leader.Counters.Dropped(DropReason.Malformed).Should().Be(1);
    }

    [Test]
    public void A_session_numbers_its_updates_one_by_one()
    {
        var session = new ClientSession(ClientSession.SessionAt(12));
        session.NextUpdate(new byte[] { 1 }).Timestamp.Should().Be(1);
        session.NextUpdate(new byte[] { 2 }).Should().Match<ClientUpdate>(u => u.Timestamp == 2 && u.ClientId == ClientSession.SessionAt(12));
        session.LastTimestamp.Should().Be(2);
        var notASession = () => new ClientSession(new ClientId(12));
        notASession.Should().Throw<ArgumentOutOfRangeException>();
    }

    private sealed class EmptyCapture : IExecutorSnapshot
    {
        public void WriteTo(Stream destination)
        {
        }

        public void Dispose()
        {
        }
    }
}
