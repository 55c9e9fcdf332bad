using Microsoft.Extensions.Logging;
using Paxos.Sample.Protocol;
using Paxos.Sample.Replica;
using Paxos.Transport;

namespace Paxos.Sample.Demo;

/// <summary>The demo's cluster inside this process: one <see cref="PaxosNode"/> per replica over an
/// <see cref="InProcessNetwork"/>, no sockets at all (<c>--in-process</c>). Each node keeps its write-ahead log in its
/// data directory when there is one.</summary>
internal sealed class LocalCluster : IDemoCluster
{
    private readonly InProcessNetwork _network;
    private readonly DemoData? _data;
    private readonly int _tickMillis;
    private readonly PaxosNode[] _nodes;
    private readonly KeyValueExecutor[] _executors;
    private readonly long[] _replayed;
    private readonly ILoggerFactory[] _loggers;
    private readonly bool[] _killed;

    private LocalCluster(int size, DemoData? data, DemoConsole console, int tickMillis)
    {
        _network = new InProcessNetwork(size);
        _data = data;
        _tickMillis = tickMillis;
        _nodes = new PaxosNode[size];
        _executors = new KeyValueExecutor[size];
        _replayed = new long[size];
        _loggers = new ILoggerFactory[size];
        _killed = new bool[size];
        for (var i = 0; i < size; i++)
        {
            var replica = i;
            _loggers[i] = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Information).AddProvider(new ConsoleLines(replica, console)));
        }
    }

    public int Size => _nodes.Length;

    public static async Task<LocalCluster> StartAsync(int size, DemoData? data, int tickMillis, DemoConsole console, CancellationToken cancellationToken)
    {
        var cluster = new LocalCluster(size, data, console, tickMillis);
        for (var i = 0; i < size; i++)
        {
            await cluster.StartNodeAsync(i, rebuild: data?.Rebuild[i] ?? false, cancellationToken);
        }

        console.Say($"{size} nodes started in this process, connected by an in-process network (no UDP)");
        return cluster;
    }

    public bool IsAlive(int replica) => !Volatile.Read(ref _killed[replica]);

    public Task<ISubmitter> ConnectAsync(int replica, CancellationToken cancellationToken) =>
        IsAlive(replica) ? Task.FromResult<ISubmitter>(new NodeSubmitter(_nodes[replica])) : throw new IOException($"Replica {replica} was killed.");

    public Task<ReplicaStatusInfo?> TryStatusAsync(int replica, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!IsAlive(replica))
        {
            return Task.FromResult<ReplicaStatusInfo?>(null);
        }

        var node = _nodes[replica];
        var s = node.Status;
        var e = _executors[replica].Snapshot();
        return Task.FromResult<ReplicaStatusInfo?>(new ReplicaStatusInfo(
            s.Id.Value, s.State, s.LastAttempted.Value, s.LastInstalled.Value, s.Leader.Value, s.LocalAru.Value, e.Executed, e.LastSequence,
            e.Digest, ProcessMetrics.PeakMemoryBytes(), s.IsFaulted, s.PendingUpdates, 0, 0, Environment.ProcessId, s.IsRebuilding,
            StorageStatus.From(node.StorageCounters, _replayed[replica])));
    }

    public string Describe(int replica) => "a node in this process";

    /// <summary>Cuts the node off the network first (so nothing more leaves it, as when a process dies), then stops it.</summary>
    public async Task KillAsync(int replica)
    {
        Volatile.Write(ref _killed[replica], true);
        _network.Isolate(new ReplicaId(replica), isolated: true);
        await _nodes[replica].StopAsync();
    }

    /// <summary>A new node (and executor) for the replica, on the same data directory; in memory it rebuilds.</summary>
    public async Task RestartAsync(int replica, CancellationToken cancellationToken)
    {
        await _nodes[replica].DisposeAsync();
        _network.Isolate(new ReplicaId(replica), isolated: false);
        await StartNodeAsync(replica, rebuild: _data is null, cancellationToken);
        Volatile.Write(ref _killed[replica], false);
    }

    public Task<List<ExecutedEntry>?> TryHistoryAsync(int replica, long fromSequence, CancellationToken cancellationToken) =>
        Task.FromResult(IsAlive(replica) && _executors[replica].History is { } history
            ? [.. history.Read(fromSequence, int.MaxValue)]
            : (List<ExecutedEntry>?)null);

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }
        }

        foreach (var logger in _loggers)
        {
            logger.Dispose();
        }
    }

    private async Task StartNodeAsync(int replica, bool rebuild, CancellationToken cancellationToken)
    {
        var directory = _data?.ReplicaDirectories[replica];
        var options = new PaxosOptions
        {
            ReplicaId = replica,
            ClusterSize = Size,
            TickInterval = TimeSpan.FromMilliseconds(_tickMillis),
            DataDirectory = directory,
            RebuildFromPeers = rebuild,
            SnapshotIntervalSlots = ProcessCluster.DemoSnapshotEvery,
            RetainedSlots = ProcessCluster.DemoSnapshotEvery / 2,
        };
        var logger = _loggers[replica].CreateLogger("Paxos.Sample.Replica");
        if (directory is not null)
        {
            SampleLog.DataDirectory(logger, replica, directory, rebuild ? " (its state was lost; rebuild it from the peers)" : string.Empty);
        }

        _executors[replica] = new KeyValueExecutor();
        _nodes[replica] = new PaxosNode(options, _executors[replica], _network.CreateTransport(new ReplicaId(replica)), storage: null, _loggers[replica]);
        await _nodes[replica].StartAsync(cancellationToken);
        _replayed[replica] = ReplicaHost.ReportRecovery(logger, replica, directory, rebuild, _nodes[replica], _executors[replica]);
    }

    /// <summary>Submits straight to a node, translating its answers into the client protocol's.</summary>
    private sealed class NodeSubmitter(PaxosNode node) : ISubmitter
    {
        public async Task<SubmitOutcome> SubmitAsync(long clientId, long timestamp, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Replica.ReplicaService.SubmitTimeout);
            try
            {
                var result = await node.SubmitAsync(new ClientUpdate(new ClientId(clientId), timestamp, payload), timeout.Token);
                return new SubmitOutcome(SubmitOutcomeKind.Executed, result, 0, -1, null);
            }
            catch (PaxosSubmitException exception)
            {
                return new SubmitOutcome(SubmitOutcomeKind.Refused, default, (ErrorCode)exception.Reason, exception.LeaderHint?.Value ?? -1, exception.Message);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return new SubmitOutcome(SubmitOutcomeKind.Refused, default, ErrorCode.Timeout, -1, "Not executed in time.");
            }
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>Shows a node's log lines worth showing, under its replica's prefix.</summary>
    private sealed class ConsoleLines(int replica, DemoConsole console) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel) && ReplicaLogLines.Select(logLevel, eventId.Id, formatter(state, exception)) is { } shown)
            {
                console.Replica(replica, exception is null ? shown : $"{shown}: {exception.Message}");
            }
        }

        public void Dispose()
        {
        }
    }
}
