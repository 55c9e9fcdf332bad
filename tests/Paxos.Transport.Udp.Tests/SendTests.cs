using System.Buffers.Binary;
using System.Net.Sockets;
using Paxos.Messages;
using Paxos.Transport.Udp.Tests.Support;

namespace Paxos.Transport.Udp.Tests;

/// <summary>The send side: per-peer coalescing (DESIGN.md §6), bounded pending datagrams, and every refused send
/// dropped and counted rather than thrown.</summary>
[TestFixture]
public sealed class SendTests
{
    [Test]
    public async Task Messages_to_one_peer_are_coalesced_into_fewer_datagrams_and_arrive_in_order()
    {
        await using var harness = await RawHarness.StartAsync();
        var sent = Enumerable.Range(1, 40).Select(i => Accept(i)).ToArray();
        foreach (var message in sent)
        {
            harness.Transport.Send(new ReplicaId(1), message);
        }

        harness.Transport.Counters.DatagramsSent.Should().Be(0, "nothing leaves before Flush while the pending datagrams have room");
        harness.Transport.Flush();

        var datagrams = await ReceiveAllAsync(harness.Peer1, harness.Transport.Counters.DatagramsSent);
        datagrams.Count.Should().BeLessThan(sent.Length).And.BeGreaterThan(0);
        datagrams.Should().OnlyContain(d => d.Length <= harness.Options.MaxDatagramBytes);
        var received = datagrams.SelectMany(d => SplitFrames(harness.Codec, d)).ToArray();
        received.Select(m => ((Accept)m).LastSequence.Value).Should().Equal(sent.Select(m => m.LastSequence.Value));
        harness.Transport.Counters.FramesSent.Should().Be(sent.Length);
    }

    [Test]
    public async Task A_datagram_the_kernel_refuses_is_dropped_and_counted_at_once_and_the_rest_still_leave()
    {
        // A broadcast address without SO_BROADCAST: sendto fails (EACCES) whatever the socket's mode — on Linux the
        // socket blocks for receiving and each send passes MSG_DONTWAIT itself, so this also runs that path.
        using var peer2 = TestSockets.Bind();
        var options = new UdpTransportOptions
        {
            ReplicaId = 0,
            BindEndpoint = "127.0.0.1:0",
            Peers = { [1] = "255.255.255.255:9", [2] = TestSockets.EndpointOf(peer2).ToString() },
            ClusterId = RawHarness.ClusterId,
        };
        await using var transport = new UdpTransport(options);
        await transport.StartAsync(new RecordingReceiver());

        transport.Send(new ReplicaId(1), Accept(1));
        transport.Send(new ReplicaId(2), Accept(2));
        transport.Flush();

        transport.Counters.SendDrops.Should().Be(1, "the refused datagram is counted, not thrown");
        transport.Counters.DatagramsSent.Should().Be(1);
        var received = SplitFrames(RawHarness.CodecFor(null, RawHarness.ClusterId, 3, options.MaxMessageBytes), (await TestSockets.ReceiveAsync(peer2, Eventually.DefaultTimeout))!);
        received.Select(m => ((Accept)m).LastSequence.Value).Should().Equal(2);
    }

    [Test]
    public async Task Each_peer_gets_its_own_datagrams()
    {
        await using var harness = await RawHarness.StartAsync();
        harness.Transport.Send(new ReplicaId(1), Accept(1));
        harness.Transport.Send(new ReplicaId(2), Accept(2));
        harness.Transport.Send(new ReplicaId(1), Accept(3));
        harness.Transport.Flush();

        var toOne = SplitFrames(harness.Codec, (await TestSockets.ReceiveAsync(harness.Peer1, Eventually.DefaultTimeout))!);
        var toTwo = SplitFrames(harness.Codec, (await TestSockets.ReceiveAsync(harness.Peer2, Eventually.DefaultTimeout))!);
        toOne.Select(m => ((Accept)m).LastSequence.Value).Should().Equal(1, 3);
        toTwo.Select(m => ((Accept)m).LastSequence.Value).Should().Equal(2);
        harness.Transport.Counters.DatagramsSent.Should().Be(2);
    }

    [Test]
    public async Task A_batch_beyond_the_pending_bound_sends_early_and_drops_nothing()
    {
        await using var harness = await RawHarness.StartAsync(maxPendingDatagramsPerPeer: 2);
        var payload = new byte[900];
        var sent = Enumerable.Range(1, 12).Select(i => Proposal(i, payload)).ToArray();
        foreach (var message in sent)
        {
            harness.Transport.Send(new ReplicaId(1), message);
        }

        harness.Transport.Counters.DatagramsSent.Should().Be(10, "each ~1 KB Proposal fills a datagram, and only two may wait");
        harness.Transport.Flush();

        var datagrams = await ReceiveAllAsync(harness.Peer1, 12);
        datagrams.SelectMany(d => SplitFrames(harness.Codec, d)).Select(m => ((Proposal)m).FirstSequence.Value)
            .Should().Equal(Enumerable.Range(1, 12).Select(i => (long)i));
        harness.Transport.Counters.SendDrops.Should().Be(0);
    }

    [Test]
    public async Task Unknown_destinations_are_dropped_and_counted()
    {
        await using var harness = await RawHarness.StartAsync();
        harness.Transport.Send(new ReplicaId(0), Accept(1)); // itself
        harness.Transport.Send(new ReplicaId(3), Accept(1));
        harness.Transport.Send(ReplicaId.None, Accept(1));
        harness.Transport.Flush();

        harness.Transport.DroppedCount(UdpDropReason.UnknownDestination).Should().Be(3);
        harness.Transport.Counters.DatagramsSent.Should().Be(0);
    }

    [Test]
    public async Task A_message_the_codec_refuses_is_counted_as_an_encode_failure_and_does_not_throw()
    {
        await using var harness = await RawHarness.StartAsync();
        var tooLarge = Proposal(1, new byte[harness.Transport.MaxMessageBytes]);
        var notAMember = new Alive(new ReplicaId(9), new SequenceNumber(1), new ViewNumber(1));

        harness.Transport.Send(new ReplicaId(1), tooLarge);
        harness.Transport.Send(new ReplicaId(1), notAMember);
        harness.Transport.Send(new ReplicaId(1), Accept(7));
        harness.Transport.Flush();

        harness.Transport.DroppedCount(UdpDropReason.EncodeFailed).Should().Be(2);
        var frames = SplitFrames(harness.Codec, (await TestSockets.ReceiveAsync(harness.Peer1, Eventually.DefaultTimeout))!);
        frames.Should().ContainSingle().Which.Should().BeOfType<Accept>();
    }

    [Test]
    public async Task Sends_before_start_and_after_dispose_are_dropped_as_not_running()
    {
        var options = new UdpTransportOptions { BindEndpoint = "127.0.0.1:0", Peers = { [1] = "127.0.0.1:9", [2] = "127.0.0.1:10" } };
        var transport = new UdpTransport(options);
        transport.Send(new ReplicaId(1), Accept(1));
        transport.Flush();
        await transport.StartAsync(new RecordingReceiver());
        await transport.DisposeAsync();
        await transport.DisposeAsync(); // idempotent
        transport.Send(new ReplicaId(1), Accept(2));
        transport.Flush();

        transport.DroppedCount(UdpDropReason.NotRunning).Should().Be(2);
        transport.IsReceiving.Should().BeFalse();
        var restart = async () => await transport.StartAsync(new RecordingReceiver());
        await restart.Should().ThrowAsync<ObjectDisposedException>();
    }

    [Test]
    public async Task Two_transports_exchange_messages_over_loopback()
    {
        // Each binds a port the other must know: reserve two, and retry if another process takes one meanwhile.
        for (var attempt = 1; ; attempt++)
        {
            var ports = TestSockets.ReservePorts(2);
            var receivers = new[] { new RecordingReceiver(), new RecordingReceiver() };
            var transports = Enumerable.Range(0, 2).Select(i => new UdpTransport(new UdpTransportOptions
            {
                ReplicaId = i,
                BindEndpoint = $"127.0.0.1:{ports[i]}",
                Peers = { [0] = $"127.0.0.1:{ports[0]}", [1] = $"127.0.0.1:{ports[1]}" },
            })).ToArray();
            try
            {
                await transports[0].StartAsync(receivers[0]);
                await transports[1].StartAsync(receivers[1]);
            }
            catch (SocketException exception) when (exception.SocketErrorCode == SocketError.AddressAlreadyInUse && attempt < 5)
            {
                await Task.WhenAll(transports.Select(t => t.DisposeAsync().AsTask()));
                continue;
            }

            transports[0].Send(new ReplicaId(1), new Alive(new ReplicaId(0), new SequenceNumber(3), new ViewNumber(1)));
            transports[0].Flush();
            transports[1].Send(new ReplicaId(0), new Alive(new ReplicaId(1), new SequenceNumber(4), new ViewNumber(1)));
            transports[1].Flush();
            await Eventually.UntilAsync(() => receivers[0].Count == 1 && receivers[1].Count == 1, "one message each way");
            ((Alive)receivers[1].Messages[0]).LocalAru.Should().Be(new SequenceNumber(3));
            ((Alive)receivers[0].Messages[0]).LocalAru.Should().Be(new SequenceNumber(4));
            await Task.WhenAll(transports.Select(t => t.DisposeAsync().AsTask()));
            return;
        }
    }

    internal static Accept Accept(long sequence) =>
        new(new ReplicaId(0), new ViewNumber(1), new SequenceNumber(sequence), new SequenceNumber(sequence));

    internal static Proposal Proposal(long sequence, byte[] payload) =>
        new(new ReplicaId(0), new ViewNumber(1), new SequenceNumber(sequence), [new ClientUpdate(new ClientId(1), sequence, payload)]);

    /// <summary>Decodes the frames of one coalesced datagram, which must all be good.</summary>
    internal static List<PaxosMessage> SplitFrames(MessageCodec codec, ReadOnlySpan<byte> datagram)
    {
        var messages = new List<PaxosMessage>();
        while (!datagram.IsEmpty)
        {
            var length = MessageCodec.HeaderBytes + (int)BinaryPrimitives.ReadUInt32LittleEndian(datagram[12..]) + codec.TrailerBytes;
            codec.TryDecode(datagram[..length], out var message).Should().Be(DecodeStatus.Ok);
            messages.Add(message!);
            datagram = datagram[length..];
        }

        return messages;
    }

    private static async Task<List<byte[]>> ReceiveAllAsync(Socket socket, long count)
    {
        var datagrams = new List<byte[]>();
        while (datagrams.Count < count)
        {
            var datagram = await TestSockets.ReceiveAsync(socket, Eventually.DefaultTimeout);
            datagram.Should().NotBeNull("datagram {0} of {1} should arrive", datagrams.Count + 1, count);
            datagrams.Add(datagram!);
        }

        return datagrams;
    }
}
