using System.Collections.Concurrent;
using FluentAssertions;
using NUnit.Framework;
using Paxos.Messages;
using Paxos.Transport.Udp.Tests.Support;

namespace Paxos.Transport.Udp.Tests;

/// <summary><see cref="UdpTransport.HasPendingInput"/>: what the node asks before it lets the receive thread wait
/// for an fsync.</summary>
public class PendingInputTests
{
    [Test]
    public async Task On_the_receive_thread_it_tells_whether_another_datagram_waits()
    {
        var receiver = new ProbingReceiver();
        await using var harness = await RawHarness.StartAsync(receiver: receiver);
        receiver.Transport = harness.Transport;

        // The first datagram's delivery holds the receive thread until the second has been sent.
        receiver.HoldFirst = true;
        harness.Send(harness.Peer1, harness.Frame(RawHarness.AliveFrom(1, aru: 1)));
        receiver.FirstArrived.Wait(TimeSpan.FromSeconds(20)).Should().BeTrue("the first datagram is delivered");
        harness.Send(harness.Peer1, harness.Frame(RawHarness.AliveFrom(1, aru: 2)));
        receiver.ReleaseFirst.Set();
        await harness.UntilReceivedAsync(2);

        receiver.Probes.Should().Equal(
            [(1L, true), (2L, false)],
            "while the second datagram waited in the socket there was input; after it, none");
    }

    [Test]
    public async Task A_frame_with_more_frames_behind_it_in_its_datagram_has_input_pending()
    {
        var receiver = new ProbingReceiver();
        await using var harness = await RawHarness.StartAsync(receiver: receiver);
        receiver.Transport = harness.Transport;

        harness.Send(harness.Peer1, [.. harness.Frame(RawHarness.AliveFrom(1, aru: 1)), .. harness.Frame(RawHarness.AliveFrom(1, aru: 2))]);
        await harness.UntilReceivedAsync(1);

        receiver.Probes.Should().Equal([(1L, true), (2L, false)], "the first frame had the second behind it; the second had nothing");
    }

    [Test]
    public async Task Off_the_receive_thread_it_cannot_tell_and_says_there_may_be()
    {
        await using var harness = await RawHarness.StartAsync();

        harness.Transport.HasPendingInput.Should().BeTrue("only the receive thread, while it delivers, may be told there is none");
    }

    /// <summary>Asks the transport, on every delivery, whether input is pending; can hold the first delivery until
    /// released, and then polls for a while (a datagram sent on loopback reaches the socket a moment later).</summary>
    private sealed class ProbingReceiver : ITransportReceiver
    {
        private readonly ConcurrentQueue<(long Aru, bool Pending)> _probes = new();

        public UdpTransport? Transport { get; set; }

        public bool HoldFirst { get; set; }

        public ManualResetEventSlim FirstArrived { get; } = new();

        public ManualResetEventSlim ReleaseFirst { get; } = new();

        public (long Aru, bool Pending)[] Probes => [.. _probes];

        public void Receive(PaxosMessage message)
        {
            var aru = ((Alive)message).LocalAru.Value;
            if (HoldFirst && !FirstArrived.IsSet)
            {
                FirstArrived.Set();
                ReleaseFirst.Wait(TimeSpan.FromSeconds(20));
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
                while (!Transport!.HasPendingInput && DateTime.UtcNow < deadline)
                {
                    Thread.Sleep(1);
                }
            }

            _probes.Enqueue((aru, Transport!.HasPendingInput));
        }
    }
}
