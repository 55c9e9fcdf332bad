using System.Globalization;
using Paxos.Sample.Processes;
using Paxos.Sample.Protocol;

namespace Paxos.Sample.Demo;

/// <summary>The demo's cluster as child processes of this program, reached through their client ports.</summary>
internal sealed class ProcessCluster : IDemoCluster
{
    private static readonly TimeSpan HistoryPageTimeout = TimeSpan.FromSeconds(5);

    private readonly ReplicaProcess[] _replicas;
    private readonly ReplicaClient?[] _statusClients;
    private readonly bool _durable;

    private ProcessCluster(ReplicaProcess[] replicas, bool durable)
    {
        _replicas = replicas;
        _statusClients = new ReplicaClient?[replicas.Length];
        _durable = durable;
    }

    /// <summary>How often the demo's replicas take snapshots: often enough that a run of a few thousand updates takes
    /// several, and the restarted replica starts from one.</summary>
    public const long DemoSnapshotEvery = 1000;

    public int Size => _replicas.Length;

    /// <summary>Starts the replicas as children of this program, each with its data directory when
    /// <paramref name="data"/> is given (else in memory), prints where each listens, and relays the lines of their
    /// logs worth showing.</summary>
    public static async Task<ProcessCluster> StartAsync(int size, DemoData? data, DemoConsole console, CancellationToken cancellationToken)
    {
        var replicas = await ClusterLauncher.StartAsync(
            LaunchCommand.ForThisProgram(),
            size,
            replica => [.. data?.Arguments(replica) ?? [], "--snapshot-every", DemoSnapshotEvery.ToString(CultureInfo.InvariantCulture)],
            (replica, line) =>
            {
                if (ReplicaLogLines.SelectChildLine(line) is { } shown)
                {
                    console.Replica(replica, shown);
                }
            },
            environment: null,
            cancellationToken);
        foreach (var replica in replicas)
        {
            console.Say(string.Create(CultureInfo.InvariantCulture,
                $"{console.Prefix(replica.Id)} pid {replica.ProcessId}, UDP {replica.UdpEndpoint}, clients on TCP {replica.ClientEndpoint}"));
        }

        return new ProcessCluster(replicas, data is not null);
    }

    public bool IsAlive(int replica) => !_replicas[replica].HasExited;

    public async Task<ISubmitter> ConnectAsync(int replica, CancellationToken cancellationToken)
    {
        try
        {
            return await ReplicaClient.ConnectAsync(_replicas[replica].ClientEndpoint!, cancellationToken);
        }
        catch (Exception exception) when (exception is System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new IOException($"Replica {replica} cannot be reached: {exception.Message}", exception);
        }
    }

    public async Task<ReplicaStatusInfo?> TryStatusAsync(int replica, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!IsAlive(replica))
        {
            return null;
        }

        try
        {
            _statusClients[replica] ??= await ReplicaClient.ConnectAsync(_replicas[replica].ClientEndpoint!, cancellationToken);
            return await _statusClients[replica]!.StatusAsync(timeout, cancellationToken);
        }
        catch (Exception exception) when (exception is IOException or System.Net.Sockets.SocketException or TimeoutException)
        {
            await ForgetStatusClientAsync(replica);
            return null;
        }
    }

    private async Task ForgetStatusClientAsync(int replica)
    {
        if (_statusClients[replica] is { } client)
        {
            await client.DisposeAsync();
            _statusClients[replica] = null;
        }
    }

    public string Describe(int replica) => string.Create(CultureInfo.InvariantCulture, $"pid {_replicas[replica].ProcessId}");

    public async Task KillAsync(int replica)
    {
        var process = _replicas[replica];
        process.Kill();
        await process.WaitForExitAsync(TimeSpan.FromSeconds(5));
    }

    /// <summary>Starts the killed replica's process again, on its ports: with its data directory it replays its log;
    /// in memory it comes back empty, so it is told to rebuild from its peers (<c>--rebuild</c>) instead of voting on
    /// promises it forgot.</summary>
    public async Task RestartAsync(int replica, CancellationToken cancellationToken)
    {
        await ForgetStatusClientAsync(replica);
        var restarted = await ClusterLauncher.RelaunchAsync(_replicas[replica], _durable ? null : ["--rebuild"], cancellationToken);
        _replicas[replica].Dispose();
        _replicas[replica] = restarted;
    }

    public async Task<List<ExecutedEntry>?> TryHistoryAsync(int replica, long fromSequence, CancellationToken cancellationToken)
    {
        if (!IsAlive(replica))
        {
            return null;
        }

        try
        {
            await using var client = await ReplicaClient.ConnectAsync(_replicas[replica].ClientEndpoint!, cancellationToken);
            return await client.ReadHistoryAsync(fromSequence, long.MaxValue, HistoryPageTimeout, cancellationToken);
        }
        catch (Exception exception) when (exception is IOException or System.Net.Sockets.SocketException or TimeoutException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _statusClients)
        {
            if (client is not null)
            {
                await client.DisposeAsync();
            }
        }

        ClusterLauncher.DisposeAll(_replicas);
    }
}
