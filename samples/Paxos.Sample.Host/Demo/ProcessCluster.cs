using System.Globalization;
using Paxos.Sample.Processes;
using Paxos.Sample.Protocol;

namespace Paxos.Sample.Demo;

/// <summary>The demo's cluster as child processes of this program, reached through their client ports.</summary>
internal sealed class ProcessCluster : IDemoCluster
{
    private readonly ReplicaProcess[] _replicas;
    private readonly ReplicaClient?[] _statusClients;

    private ProcessCluster(ReplicaProcess[] replicas)
    {
        _replicas = replicas;
        _statusClients = new ReplicaClient?[replicas.Length];
    }

    public int Size => _replicas.Length;

    /// <summary>Starts the replicas as children of this program, prints where each listens, and relays the lines of
    /// their logs worth showing.</summary>
    public static async Task<ProcessCluster> StartAsync(int size, IReadOnlyList<string> extraArguments, DemoConsole console, CancellationToken cancellationToken)
    {
        var replicas = await ClusterLauncher.StartAsync(
            LaunchCommand.ForThisProgram(),
            size,
            extraArguments,
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

        return new ProcessCluster(replicas);
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
            if (_statusClients[replica] is { } broken)
            {
                await broken.DisposeAsync();
                _statusClients[replica] = null;
            }

            return null;
        }
    }

    public string Describe(int replica) => string.Create(CultureInfo.InvariantCulture, $"pid {_replicas[replica].ProcessId}");

    public async Task KillAsync(int replica)
    {
        var process = _replicas[replica];
        process.Kill();
        await process.WaitForExitAsync(TimeSpan.FromSeconds(5));
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
