using Paxos.Messages;
using Paxos.Protocol;

using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>PROTOCOL.md §12–§13 (TR §5.6, §5.9; G1): periodic Alive (anti-entropy) and the catch-up sub-protocol of §13.3.</summary>
public class ReconciliationTests
{
    private static PersistentState OrderedUpTo(int slots, int payloadBytes = 1) => new()
    {
        LastInstalled = V(1),
        OrderedSlots = Enumerable.Range(1, slots).Select(s => new OrderedSlot(S(s), U(s, 1, payloadBytes, origin: 1))).ToArray(),
    };

    [Test]
    public void Alive_advertises_Local_Aru_every_AliveIntervalTicks()
    {
        // §13.1 trigger 3 (anti-entropy): every server periodically advertises its Local_Aru (PSB-C ALIVE).
        var fixture = NonLeaderOfView1(configure: o => o.AliveIntervalTicks = 5);
        fixture.Deliver(Proposal(1, 1, 1, U(1, 1, origin: 1)));
        fixture.Clear();

        fixture.Tick(4);
        fixture.MessagesOf<Alive>().Should().BeEmpty();
        fixture.Tick(6);

        var alives = fixture.SentOf<Alive>();
        alives.Should().HaveCount(2).And.OnlyContain(a => a.To.IsNone);
        alives.Should().OnlyContain(a => a.Message.LocalAru == S(1) && a.Message.LastInstalled == V(1));
    }

    [Test]
    public void Alive_with_a_higher_aru_starts_a_catch_up_after_the_delay()
    {
        // §13.1 trigger 3: on seeing a higher aru, wait a short delay, then — if still behind — ask that peer for the missing slots.
        var fixture = NonLeaderOfView1(configure: o => o.CatchUpDelayTicks = 3);

        fixture.Deliver(new Alive(R(2), S(5), V(1)));
        fixture.MessagesOf<CatchUpRequest>().Should().BeEmpty("the delay lets updates already in flight arrive first");
        fixture.Tick(2);
        fixture.MessagesOf<CatchUpRequest>().Should().BeEmpty();
        fixture.Tick(2);

        var (to, request) = fixture.SentOf<CatchUpRequest>().Should().ContainSingle().Subject;
        to.Should().Be(R(2));
        request.FromSequence.Should().Be(S(1));
        request.ToSequence.Should().Be(S(5));
    }

    [Test]
    public void Alive_with_a_higher_aru_starts_a_catch_up_exactly_CatchUpDelayTicks_later()
    {
        // §13.1 trigger 3 / PaxosOptions.CatchUpDelayTicks: the replica waits CatchUpDelayTicks ticks, as every other timer in ticks does.
        var fixture = NonLeaderOfView1(configure: o => o.CatchUpDelayTicks = 3);

        fixture.Deliver(new Alive(R(2), S(5), V(1)));

        fixture.TicksUntil(() => fixture.MessagesOf<CatchUpRequest>().Count > 0, 100).Should().Be(3);
    }

    [Test]
    public void Alive_with_a_higher_aru_does_nothing_once_the_gap_closed()
    {
        // §13.1 trigger 3: if the server is no longer behind when the delay ends, it does not reconcile.
        var fixture = NonLeaderOfView1(configure: o => o.CatchUpDelayTicks = 3);

        fixture.Deliver(new Alive(R(2), S(1), V(1)));
        fixture.Deliver(Proposal(1, 1, 1, U(1, 1, origin: 1)));
        fixture.Tick(10);

        fixture.MessagesOf<CatchUpRequest>().Should().BeEmpty();
    }

    [Test]
    public void CatchUpRequest_is_answered_from_the_ordered_prefix_in_messages_that_fit()
    {
        // §13.3 CatchUpRequest(from, to) → Globally_Ordered_Updates served only from ordered slots, each message within MaxMessageBytes.
        var fixture = new ReplicaFixture(0, configure: o =>
        {
            o.MaxMessageBytes = 512;
            o.MaxUpdateBytes = 400;
        }, recovered: OrderedUpTo(6, payloadBytes: 300));
        fixture.Clear();

        fixture.Deliver(new CatchUpRequest(R(2), S(2), S(10)));

        var answers = fixture.SentOf<GloballyOrderedUpdate>();
        answers.Should().HaveCountGreaterThan(1).And.OnlyContain(a => a.To == R(2));
        answers.SelectMany(a => a.Message.Updates.Select((u, i) => (Sequence: a.Message.FirstSequence.Value + i, u.ClientId.Value)))
            .Should().Equal((2L, 2L), (3L, 3L), (4L, 4L), (5L, 5L), (6L, 6L));
        var codec = new MessageCodec(new MessageCodecOptions { ClusterSize = 3, MaxMessageBytes = 512 });
        answers.Should().OnlyContain(a => codec.GetEncodedLength(a.Message) <= codec.MaxFrameBytes);
        fixture.Counters.CatchUpRequestsServed.Should().Be(1);
    }

    [Test]
    public void CatchUpRequest_that_cannot_be_served_is_answered_with_an_empty_update()
    {
        // §13.3 (PSB-C RECONC_RESPONSE REJECT): a peer that has not ordered the first requested slot says so at once.
        var fixture = new ReplicaFixture(0, recovered: OrderedUpTo(3));
        fixture.Clear();

        fixture.Deliver(new CatchUpRequest(R(2), S(4), S(9)));

        var (to, answer) = fixture.SentOf<GloballyOrderedUpdate>().Should().ContainSingle().Subject;
        to.Should().Be(R(2));
        answer.FirstSequence.Should().Be(S(4));
        answer.Updates.Should().BeEmpty();
        fixture.Counters.CatchUpRequestsServed.Should().Be(0);
    }

    [Test]
    public void Catch_up_answer_is_executed_and_ends_the_catch_up()
    {
        // §13.2 streaming: received ordered updates run the normal ordering path (Advance_Aru executes them); the session ends at the target.
        var fixture = NonLeaderOfView1(configure: o => o.CatchUpDelayTicks = 0);
        fixture.Deliver(new Alive(R(2), S(2), V(1)));
        fixture.MessagesOf<CatchUpRequest>().Should().ContainSingle();

        fixture.Deliver(Ordered(2, 1, U(1, 1, origin: 2), U(2, 1, origin: 2)));
        fixture.Clear();
        fixture.Tick(2000);

        fixture.Executor.History.Select(u => u.Sequence.Value).Should().Equal(1, 2);
        fixture.MessagesOf<CatchUpRequest>().Should().BeEmpty("the target was reached");
        fixture.Counters.SlotsLearnedOrdered.Should().Be(2);
    }

    [Test]
    public void Catch_up_switches_peer_when_the_request_times_out()
    {
        // §13.2: on timeout, try another peer (PSB-C: another random alive server not tried yet).
        var fixture = NonLeaderOfView1(configure: o =>
        {
            o.CatchUpDelayTicks = 0;
            o.CatchUpTimeoutTicks = 10;
        });
        fixture.Deliver(new Alive(R(1), S(5), V(1)));

        fixture.Tick(9);
        fixture.SentOf<CatchUpRequest>().Select(r => r.To).Should().Equal(R(1));
        fixture.Tick();

        fixture.SentOf<CatchUpRequest>().Select(r => r.To).Should().Equal(R(1), R(2));
        fixture.MessagesOf<CatchUpRequest>()[1].FromSequence.Should().Be(S(1));
    }

    [Test]
    public void Catch_up_switches_peer_at_once_when_the_peer_cannot_serve()
    {
        // §13.2: on a reject, try another peer immediately.
        var fixture = NonLeaderOfView1(configure: o => o.CatchUpDelayTicks = 0);
        fixture.Deliver(new Alive(R(1), S(5), V(1)));

        fixture.Deliver(Ordered(1, 1));

        fixture.SentOf<CatchUpRequest>().Select(r => r.To).Should().Equal(R(1), R(2));
    }
}
