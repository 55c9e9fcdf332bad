using System.Net.Sockets;
using Paxos.Testing;

namespace Paxos.Transport.Udp.Tests.Support;

/// <summary>
/// Real <see cref="PaxosNode"/>s in this process, each with a <see cref="UdpTransport"/> on 127.0.0.1: either
/// directly connected, or through a <see cref="UdpChaosProxy"/>. Replicas listed as external get no node; through
/// a proxy, the test may stand in for them with a socket of its own (<see cref="UdpChaosProxy.SetReplicaEndpoint"/>).
/// </summary>
public sealed class UdpCluster : IAsyncDisposable
{
    private const int MaxStartAttempts = 5;

    private UdpCluster(int size, UdpChaosProxy? proxy)
    {
        Size = size;
        Proxy = proxy;
        Nodes = new PaxosNode?[size];
        Transports = new UdpTransport?[size];
        Executors = new OrderRecorder[size];
        for (var i = 0; i < size; i++)
        {
            Executors[i] = new OrderRecorder();
        }
    }

    public int Size { get; }

    public UdpChaosProxy? Proxy { get; }

    public PaxosNode?[] Nodes { get; }

    public UdpTransport?[] Transports { get; }

    internal OrderRecorder[] Executors { get; }

    /// <summary>Protocol timers short enough for a test on loopback, in ticks of 5 ms.</summary>
    /// <summary>The id of every test cluster, in the nodes' options and their transports'.</summary>
    public const uint ClusterId = 0xC1A5;

    public static PaxosOptions Options(int replica, int size) => new()
    {
        ReplicaId = replica,
        ClusterId = ClusterId,
        ClusterSize = size,
        TickInterval = TimeSpan.FromMilliseconds(5),
        ProgressTimeoutTicks = 60,
        MaxProgressTimeoutTicks = 480,
        LeaderHeartbeatTicks = 10,
        ViewChangeRetransmitTicks = 10,
        VcProofIntervalTicks = 20,
        PrepareRetransmitTicks = 5,
        ProposalRetransmitTicks = 5,
        UpdateRetransmitTicks = 20,
        AliveIntervalTicks = 10,
        CatchUpTimeoutTicks = 10,
    };

    /// <summary>Starts <paramref name="size"/> nodes that reach each other directly. Their ports are reserved
    /// first (each must know the others'), and the whole start is retried if another process took one meanwhile.</summary>
    public static async Task<UdpCluster> StartDirectAsync(int size, string? key = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var ports = TestSockets.ReservePorts(size);
            var cluster = new UdpCluster(size, proxy: null);
            try
            {
                for (var i = 0; i < size; i++)
                {
                    var options = TransportOptions(i, size, key, $"127.0.0.1:{ports[i]}", k => $"127.0.0.1:{ports[k]}");
                    await cluster.StartNodeAsync(i, options);
                }

                return cluster;
            }
            catch (SocketException exception) when (exception.SocketErrorCode == SocketError.AddressAlreadyInUse && attempt < MaxStartAttempts)
            {
                await cluster.DisposeAsync();
            }
        }
    }

    /// <summary>Starts the nodes of a cluster of <paramref name="size"/> behind a chaos proxy seeded with
    /// <paramref name="seed"/>, except the <paramref name="external"/> replicas. Nodes bind port 0: only the proxy
    /// needs their real ports, and it learns them after start, so nothing can clash.</summary>
    public static async Task<UdpCluster> StartProxiedAsync(int size, ulong seed, string? key = null, params int[] external)
    {
        var proxy = new UdpChaosProxy(size, seed);
        var cluster = new UdpCluster(size, proxy);
        for (var i = 0; i < size; i++)
        {
            if (Array.IndexOf(external, i) >= 0)
            {
                continue;
            }

            var options = TransportOptions(i, size, key, "127.0.0.1:0", k => proxy.EndpointFor(k).ToString());
            await cluster.StartNodeAsync(i, options);
            proxy.SetReplicaEndpoint(i, cluster.Transports[i]!.LocalEndpoint!);
        }

        return cluster;
    }

    public static UdpTransportOptions TransportOptions(int replica, int size, string? key, string bind, Func<int, string> peer)
    {
        var options = new UdpTransportOptions
        {
            ReplicaId = replica,
            BindEndpoint = bind,
            ClusterId = ClusterId,
            ClusterKey = key,
        };
        for (var k = 0; k < size; k++)
        {
            options.Peers[k] = peer(k);
        }

        return options;
    }

    /// <summary>Waits until every running node is in the same installed view, one of them its leader, and returns it.</summary>
    public async Task<int> UntilLeaderAsync()
    {
        var leader = -1;
        await Eventually.UntilAsync(
            () =>
            {
                leader = -1;
                var running = Nodes.Where(n => n is not null).Select(n => n!.Status).ToArray();
                var first = running[0];
                var agreed = first.State != ReplicaState.LeaderElection
                    && running.All(s => s.State != ReplicaState.LeaderElection && s.LastInstalled == first.LastInstalled && s.Leader == first.Leader);
                leader = agreed ? first.Leader.Value : -1;
                return agreed;
            },
            "a leader every running node follows",
            state: Describe);
        return leader;
    }

    /// <summary>Waits until the given replicas' executors all executed <paramref name="count"/> updates, then checks
    /// they executed the same ones in the same order (with the same sequence numbers) and returns that order.</summary>
    internal async Task<OrderRecorder.Executed[]> UntilAgreedAsync(int count, params int[] replicas)
    {
        await Eventually.UntilAsync(
            () => replicas.All(r => Executors[r].Count >= count),
            $"replicas {string.Join(",", replicas)} to execute {count} updates",
            timeout: TimeSpan.FromSeconds(40),
            state: Describe);
        var reference = Executors[replicas[0]].Snapshot();
        reference.Should().HaveCount(count);
        foreach (var replica in replicas.Skip(1))
        {
            Executors[replica].Snapshot().Should().Equal(reference, "replica {0} must execute what replica {1} did, in the same order", replica, replicas[0]);
        }

        return reference;
    }

    public string Describe() => string.Join(" | ", Enumerable.Range(0, Size).Select(i =>
        Nodes[i] is { } node
            ? $"r{i} {node.Status.State} v{node.Status.LastInstalled.Value} leader {node.Status.Leader} aru {node.Status.LocalAru.Value} executed {Executors[i].Count} {Transports[i]!.Counters}"
            : $"r{i} -")) + (Proxy is null ? "" : $" | proxy seed 0x{Proxy.Seed:X}: {Proxy.Counters}");

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }
        }

        foreach (var transport in Transports)
        {
            if (transport is not null)
            {
                await transport.DisposeAsync();
            }
        }

        if (Proxy is not null)
        {
            await Proxy.DisposeAsync();
        }
    }

    private async Task StartNodeAsync(int replica, UdpTransportOptions transportOptions)
    {
        var options = Options(replica, Size);
        UdpTransport.CheckCompatible(options, transportOptions);
        var transport = new UdpTransport(transportOptions);
        Transports[replica] = transport;
        var node = new PaxosNode(options, Executors[replica], transport, storage: null, loggerFactory: null, seed: (ulong)replica + 1);
        Nodes[replica] = node;
        await node.StartAsync();
    }
}
