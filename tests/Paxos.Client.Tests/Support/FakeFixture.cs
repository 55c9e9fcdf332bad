using System.Net;
using Paxos.Client.Listener;

namespace Paxos.Client.Tests.Support;

/// <summary>A <see cref="FakeCluster"/> with one listener per replica on 127.0.0.1, and client options that name
/// them all.</summary>
internal sealed class FakeFixture : IAsyncDisposable
{
    private FakeFixture(FakeCluster cluster, FakeReplica[] replicas, PaxosClientListener[] listeners)
    {
        Cluster = cluster;
        Replicas = replicas;
        Listeners = listeners;
    }

    public FakeCluster Cluster { get; }

    public FakeReplica[] Replicas { get; }

    public PaxosClientListener[] Listeners { get; }

    public static async Task<FakeFixture> StartAsync(int count = 3, string? key = null, Action<PaxosClientListenerOptions>? configure = null)
    {
        var cluster = new FakeCluster();
        var replicas = new FakeReplica[count];
        var listeners = new PaxosClientListener[count];
        for (var i = 0; i < count; i++)
        {
            replicas[i] = new FakeReplica(cluster, i);
            var options = new PaxosClientListenerOptions { ListenEndpoint = "127.0.0.1:0", ClusterKey = key, RequestTimeout = TimeSpan.FromSeconds(2) };
            configure?.Invoke(options);
            listeners[i] = new PaxosClientListener(replicas[i], options);
            await listeners[i].StartAsync(CancellationToken.None);
        }

        return new FakeFixture(cluster, replicas, listeners);
    }

    public PaxosClientOptions ClientOptions(string? key = null, params int[] order)
    {
        var options = new PaxosClientOptions
        {
            ClusterKey = key,
            RequestTimeout = TimeSpan.FromSeconds(3),
            OperationTimeout = TimeSpan.FromSeconds(20),
            RetryDelay = TimeSpan.FromMilliseconds(5),
            MaxRetryDelay = TimeSpan.FromMilliseconds(100),
        };
        foreach (var i in order.Length > 0 ? order : Enumerable.Range(0, Listeners.Length))
        {
            options.Replicas.Add(Listeners[i].LocalEndpoint!);
        }

        return options;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var listener in Listeners)
        {
            await listener.DisposeAsync();
        }
    }

    /// <summary>An endpoint on 127.0.0.1 where nothing listens: a port bound then released.</summary>
    public static IPEndPoint ClosedEndpoint()
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (IPEndPoint)socket.LocalEndPoint!;
    }
}
