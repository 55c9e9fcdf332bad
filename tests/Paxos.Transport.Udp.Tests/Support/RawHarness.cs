using System.Net;
using System.Net.Sockets;
using Paxos.Messages;

namespace Paxos.Transport.Udp.Tests.Support;

/// <summary>
/// A live <see cref="UdpTransport"/> for replica 0 of a cluster of 3, whose peers 1 and 2 are raw test sockets,
/// so a test can send it any bytes from a configured (or a stranger's) endpoint and see what it delivers and drops.
/// </summary>
public sealed class RawHarness : IAsyncDisposable
{
    public const uint ClusterId = 7;
    public const int ClusterSize = 3;

    /// <summary>A 32-byte cluster key, and another one, both base64.</summary>
    public static readonly string Key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    public static readonly string OtherKey = Convert.ToBase64String(Enumerable.Range(101, 32).Select(i => (byte)i).ToArray());

    private RawHarness(UdpTransport transport, RecordingReceiver receiver, Socket peer1, Socket peer2, Socket stranger, UdpTransportOptions options)
    {
        Transport = transport;
        Receiver = receiver;
        Peer1 = peer1;
        Peer2 = peer2;
        Stranger = stranger;
        Options = options;
        Codec = CodecFor(options.ClusterKey, ClusterId, ClusterSize, options.MaxMessageBytes);
    }

    public UdpTransport Transport { get; }

    public RecordingReceiver Receiver { get; }

    public Socket Peer1 { get; }

    public Socket Peer2 { get; }

    public Socket Stranger { get; }

    public UdpTransportOptions Options { get; }

    /// <summary>A codec that writes frames the transport accepts.</summary>
    public MessageCodec Codec { get; }

    public IPEndPoint Target => Transport.LocalEndpoint!;

    public static async Task<RawHarness> StartAsync(string? key = null, ITransportReceiver? receiver = null, int maxDatagramBytes = UdpTransportOptions.DefaultMaxDatagramBytes, int maxPendingDatagramsPerPeer = UdpTransportOptions.DefaultMaxPendingDatagramsPerPeer)
    {
        var peer1 = TestSockets.Bind();
        var peer2 = TestSockets.Bind();
        var stranger = TestSockets.Bind();
        var options = new UdpTransportOptions
        {
            ReplicaId = 0,
            BindEndpoint = "127.0.0.1:0",
            Peers = { [1] = TestSockets.EndpointOf(peer1).ToString(), [2] = TestSockets.EndpointOf(peer2).ToString() },
            ClusterId = ClusterId,
            ClusterKey = key,
            MaxDatagramBytes = maxDatagramBytes,
            MaxPendingDatagramsPerPeer = maxPendingDatagramsPerPeer,
        };
        var transport = new UdpTransport(options);
        var recording = new RecordingReceiver();
        await transport.StartAsync(receiver ?? recording);
        return new RawHarness(transport, recording, peer1, peer2, stranger, options);
    }

    public static MessageCodec CodecFor(string? key, uint clusterId, int clusterSize, int maxMessageBytes) => new(new MessageCodecOptions
    {
        ClusterId = clusterId,
        ClusterSize = clusterSize,
        ClusterKey = key is null ? ReadOnlyMemory<byte>.Empty : Convert.FromBase64String(key),
        MaxMessageBytes = maxMessageBytes,
    });

    public static byte[] Encode(MessageCodec codec, PaxosMessage message)
    {
        var frame = new byte[codec.GetEncodedLength(message)];
        codec.Encode(message, frame);
        return frame;
    }

    public static Alive AliveFrom(int sender, long aru = 5) => new(new ReplicaId(sender), new SequenceNumber(aru), new ViewNumber(1));

    public byte[] Frame(PaxosMessage message) => Encode(Codec, message);

    public void Send(Socket from, ReadOnlySpan<byte> datagram) => from.SendTo(datagram, SocketFlags.None, Target);

    /// <summary>Waits until the transport has read <paramref name="datagrams"/> datagrams in all and finished with
    /// each: delivered all its frames or counted its drop. (The read count goes up before a datagram is processed,
    /// so waiting on it alone would race with the receive loop.)</summary>
    public Task UntilReceivedAsync(long datagrams) =>
        Eventually.UntilAsync(
            () => Transport.Counters is var c && c.DatagramsReceived >= datagrams && c.DatagramsReceived == c.DatagramsDelivered + c.ReceiveDrops,
            $"{datagrams} datagrams read and processed",
            state: () => Transport.Counters.ToString());

    public async ValueTask DisposeAsync()
    {
        await Transport.DisposeAsync();
        Peer1.Dispose();
        Peer2.Dispose();
        Stranger.Dispose();
    }
}
