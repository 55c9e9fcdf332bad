using System.Net.Sockets;
using Paxos.Testing;
using Paxos.Transport.Udp.Tests.Support;

namespace Paxos.Transport.Udp.Tests;

/// <summary>The chaos proxy itself: routing that keeps the sender's configured endpoint, each fault, and
/// reproducible decisions for a seed.</summary>
[TestFixture]
public sealed class ChaosProxyTests
{
    [Test]
    public async Task A_datagram_from_i_to_relay_j_reaches_j_from_relay_i()
    {
        await using var proxy = new UdpChaosProxy(2, seed: 1);
        using var p0 = Register(proxy, 0);
        using var p1 = Register(proxy, 1);

        p0.SendTo("hello"u8, proxy.EndpointFor(1));
        var (payload, source) = await ReceiveFromAsync(p1);

        payload.Should().Equal("hello"u8.ToArray());
        source.Should().Be(proxy.EndpointFor(0), "replica 1 must see the datagram come from replica 0's configured endpoint");
    }

    [Test]
    public async Task Cut_isolate_and_heal()
    {
        await using var proxy = new UdpChaosProxy(3, seed: 2);
        using var p0 = Register(proxy, 0);
        using var p1 = Register(proxy, 1);
        using var p2 = Register(proxy, 2);

        proxy.Cut(0, 1);
        p0.SendTo([1], proxy.EndpointFor(1));
        await Eventually.UntilAsync(() => proxy.Counters.CutDropped == 1, "the one-way cut drops 0 → 1");
        p1.SendTo([2], proxy.EndpointFor(0));
        (await ReceiveFromAsync(p0)).Payload.Should().Equal(2);

        proxy.Heal();
        proxy.Isolate(2);
        p2.SendTo([3], proxy.EndpointFor(0));
        p0.SendTo([4], proxy.EndpointFor(2));
        await Eventually.UntilAsync(() => proxy.Counters.CutDropped == 3, "isolation drops both ways");

        proxy.Heal();
        p0.SendTo([5], proxy.EndpointFor(1));
        (await ReceiveFromAsync(p1)).Payload.Should().Equal(5);
    }

    [Test]
    public async Task Loss_duplication_and_delay_apply_per_link()
    {
        await using var proxy = new UdpChaosProxy(2, seed: 3);
        using var p0 = Register(proxy, 0);
        using var p1 = Register(proxy, 1);

        proxy.SetLink(0, 1, new LinkFaults(LossProbability: 1));
        p0.SendTo([1], proxy.EndpointFor(1));
        await Eventually.UntilAsync(() => proxy.Counters.Lost == 1, "certain loss");

        proxy.SetLink(0, 1, new LinkFaults(DuplicateProbability: 1, MinDelayMicros: 1000, MaxDelayMicros: 3000));
        p0.SendTo([2], proxy.EndpointFor(1));
        (await ReceiveFromAsync(p1)).Payload.Should().Equal(2);
        (await ReceiveFromAsync(p1)).Payload.Should().Equal(2);
        proxy.Counters.Duplicated.Should().Be(1);
        proxy.Counters.Delayed.Should().Be(2);
        proxy.GetLink(1, 0).Should().Be(LinkFaults.None, "links are directed");
    }

    [Test]
    public async Task The_same_seed_makes_the_same_decisions_for_the_same_arrivals()
    {
        var first = await SurvivorsAsync(seed: 99);
        var second = await SurvivorsAsync(seed: 99);
        var other = await SurvivorsAsync(seed: 100);

        first.Should().Equal(second);
        first.Should().NotEqual(other);
        first.Length.Should().BeInRange(20, 80);
    }

    /// <summary>Which of 100 datagrams survive 50 % loss.</summary>
    private static async Task<byte[]> SurvivorsAsync(ulong seed)
    {
        await using var proxy = new UdpChaosProxy(2, seed);
        using var p0 = Register(proxy, 0);
        using var p1 = Register(proxy, 1);
        proxy.SetAll(new LinkFaults(LossProbability: 0.5));
        // One relay socket has one receive loop, so decisions follow the order of arrival, which loopback keeps.
        for (var i = 0; i < 100; i++)
        {
            p0.SendTo([(byte)i], proxy.EndpointFor(1));
        }

        await Eventually.UntilAsync(() => proxy.Counters is var c && c.Forwarded + c.Lost == 100, "all 100 datagrams decided");

        var survivors = new List<byte>();
        for (var i = 0; i < proxy.Counters.Forwarded; i++)
        {
            survivors.Add((await ReceiveFromAsync(p1)).Payload.Single());
        }

        return [.. survivors];
    }

    private static Socket Register(UdpChaosProxy proxy, int replica)
    {
        var socket = TestSockets.Bind();
        proxy.SetReplicaEndpoint(replica, TestSockets.EndpointOf(socket));
        return socket;
    }

    private static async Task<(byte[] Payload, System.Net.EndPoint Source)> ReceiveFromAsync(Socket socket)
    {
        var buffer = new byte[2048];
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        var result = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new System.Net.IPEndPoint(System.Net.IPAddress.Any, 0), timeout.Token);
        return (buffer[..result.ReceivedBytes], result.RemoteEndPoint);
    }
}
