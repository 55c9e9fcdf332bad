using System.Collections.Concurrent;
using System.Diagnostics;
using Paxos.Storage;
using Paxos.Transport;

namespace Paxos.Tests.Hosting;

/// <summary>Three (or N) real <see cref="PaxosNode"/>s in one process over an <see cref="InProcessNetwork"/>.</summary>
internal sealed class NodeCluster : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly Func<int, PaxosOptions> _options;

    /// <param name="storage">Each node's storage; in memory when absent. A null storage lets the node open its own
    /// (the file log in <see cref="PaxosOptions.DataDirectory"/>).</param>
    public NodeCluster(int size, Func<int, PaxosOptions>? options = null, Func<int, IReplicaStorage?>? storage = null, Func<int, ITransport, ITransport>? wrapTransport = null)
    {
        Network = new InProcessNetwork(size);
        _options = options ?? (i => Options(i, size));
        Executors = new RecordingExecutor[size];
        Storage = new IReplicaStorage?[size];
        Nodes = new PaxosNode[size];
        for (var i = 0; i < size; i++)
        {
            Executors[i] = new RecordingExecutor();
            Storage[i] = storage is null ? new InMemoryReplicaStorage() : storage(i);
            var transport = Network.CreateTransport(new ReplicaId(i));
            Nodes[i] = new PaxosNode(_options(i), Executors[i], wrapTransport?.Invoke(i, transport) ?? transport, Storage[i], seed: (ulong)i);
        }
    }

    public InProcessNetwork Network { get; }

    public PaxosNode[] Nodes { get; }

    public RecordingExecutor[] Executors { get; }

    public IReplicaStorage?[] Storage { get; }

    public static PaxosOptions Options(int id, int size) => new()
    {
        ReplicaId = id,
        ClusterSize = size,
        TickInterval = TimeSpan.FromMilliseconds(2),
        ProgressTimeoutTicks = 50,
        MaxProgressTimeoutTicks = 400,
        LeaderHeartbeatTicks = 10,
    };

    public async Task StartAsync()
    {
        foreach (var node in Nodes)
        {
            await node.StartAsync();
        }
    }

    /// <summary>Waits until some node leads; returns it.</summary>
    public async Task<PaxosNode> LeaderAsync()
    {
        PaxosNode? leader = null;
        await WaitAsync(() => (leader = Nodes.FirstOrDefault(n => n.Status.State == ReplicaState.RegularLeader)) is not null, "a leader");
        return leader!;
    }

    public static async Task WaitAsync(Func<bool> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > Patience)
            {
                Assert.Fail($"gave up waiting for {what} after {Patience.TotalSeconds} s");
            }

            await Task.Delay(5);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }
    }
}

/// <summary>Records every update it executes and replies with "sequence:client#timestamp".</summary>
internal sealed class RecordingExecutor : IExecutor
{
    private readonly ConcurrentQueue<(long Sequence, long Client, long Timestamp)> _executed = new();

    public IReadOnlyCollection<(long Sequence, long Client, long Timestamp)> Executed => _executed;

    public Func<OrderedUpdate, Exception?>? FailWith { get; set; }

    public ReadOnlyMemory<byte> Execute(in OrderedUpdate update)
    {
        if (FailWith?.Invoke(update) is { } failure)
        {
            throw failure;
        }

        _executed.Enqueue((update.Sequence.Value, update.ClientId.Value, update.Timestamp));
        return System.Text.Encoding.UTF8.GetBytes($"{update.Sequence}:{update.ClientId}#{update.Timestamp}");
    }
}
