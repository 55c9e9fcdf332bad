using System.Text;
using Paxos.Client.Listener;
using Paxos.Transport;

namespace Paxos.Client.Tests.Support;

/// <summary>A key-value store: "SET key value" stores and answers "OK"; "FAIL reason" is rejected with the reason as
/// the error; a read "GET key" answers the value (empty when there is none). It records what it applied, for
/// exactly-once checks.</summary>
internal sealed class KeyValueStore : IExecutor, IReadExecutor
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, string> _values = [];
    private readonly List<string> _applied = [];

    public IReadOnlyList<string> Applied
    {
        get
        {
            lock (_lock)
            {
                return [.. _applied];
            }
        }
    }

    public ReadOnlyMemory<byte> Execute(in OrderedUpdate update)
    {
        var text = Encoding.UTF8.GetString(update.Payload.Span);
        lock (_lock)
        {
            _applied.Add(text);
            if (text.StartsWith("FAIL ", StringComparison.Ordinal))
            {
                throw new UpdateRejectedException(Encoding.UTF8.GetBytes(text[5..]));
            }

            if (text.Split(' ', 3) is ["SET", var key, var value])
            {
                _values[key] = value;
            }
        }

        return "OK"u8.ToArray();
    }

    public ReadOnlyMemory<byte> Read(ReadOnlySpan<byte> query)
    {
        var text = Encoding.UTF8.GetString(query);
        lock (_lock)
        {
            return text.StartsWith("GET ", StringComparison.Ordinal) && _values.TryGetValue(text[4..], out var value)
                ? Encoding.UTF8.GetBytes(value)
                : ReadOnlyMemory<byte>.Empty;
        }
    }
}

/// <summary>Real <see cref="PaxosNode"/>s on an <see cref="InProcessNetwork"/> and the system clock, each with a
/// <see cref="PaxosClientListener"/> on 127.0.0.1.</summary>
internal sealed class RealCluster : IAsyncDisposable
{
    private readonly bool[] _stopped;

    private RealCluster(int size)
    {
        Network = new InProcessNetwork(size);
        Nodes = new PaxosNode[size];
        Listeners = new PaxosClientListener[size];
        Executors = new KeyValueStore[size];
        _stopped = new bool[size];
    }

    public InProcessNetwork Network { get; }

    public PaxosNode[] Nodes { get; }

    public PaxosClientListener[] Listeners { get; }

    public KeyValueStore[] Executors { get; }

    public IEnumerable<int> Running => Enumerable.Range(0, Nodes.Length).Where(i => !_stopped[i]);

    public static PaxosOptions Options(int replica, int size) => new()
    {
        ReplicaId = replica,
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

    public static async Task<RealCluster> StartAsync(int size, string? key = null)
    {
        var cluster = new RealCluster(size);
        for (var i = 0; i < size; i++)
        {
            cluster.Executors[i] = new KeyValueStore();
            cluster.Nodes[i] = new PaxosNode(Options(i, size), cluster.Executors[i], cluster.Network.CreateTransport(new ReplicaId(i)), seed: (ulong)i + 1);
            await cluster.Nodes[i].StartAsync();
            cluster.Listeners[i] = new PaxosClientListener(cluster.Nodes[i], new PaxosClientListenerOptions { ListenEndpoint = "127.0.0.1:0", ClusterKey = key });
            await cluster.Listeners[i].StartAsync(CancellationToken.None);
        }

        return cluster;
    }

    public PaxosClientOptions ClientOptions(string? key = null)
    {
        var options = new PaxosClientOptions
        {
            ClusterKey = key,
            RequestTimeout = TimeSpan.FromSeconds(2),
            OperationTimeout = TimeSpan.FromSeconds(30),
            RetryDelay = TimeSpan.FromMilliseconds(10),
            MaxRetryDelay = TimeSpan.FromMilliseconds(200),
        };
        foreach (var listener in Listeners)
        {
            options.Replicas.Add(listener.LocalEndpoint!);
        }

        return options;
    }

    /// <summary>Waits until the running nodes agree on a leader, and returns it.</summary>
    public async Task<int> UntilLeaderAsync()
    {
        var leader = -1;
        await Eventually.UntilAsync(
            () =>
            {
                var statuses = Running.Select(i => Nodes[i].Status).ToArray();
                var first = statuses[0];
                var agreed = first.State != ReplicaState.LeaderElection
                    && statuses.All(s => s.State != ReplicaState.LeaderElection && s.LastInstalled == first.LastInstalled && s.Leader == first.Leader);
                leader = agreed ? first.Leader.Value : -1;
                return agreed;
            },
            "a leader every running node follows");
        return leader;
    }

    /// <summary>Stops a replica's listener, then its node, as a host shuts down.</summary>
    public async Task StopAsync(int replica)
    {
        _stopped[replica] = true;
        await Listeners[replica].StopAsync(CancellationToken.None);
        await Nodes[replica].StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < Nodes.Length; i++)
        {
            if (Listeners[i] is not null)
            {
                await Listeners[i].DisposeAsync();
            }

            if (Nodes[i] is not null)
            {
                await Nodes[i].DisposeAsync();
            }
        }
    }
}
