using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Paxos.Sample.Protocol;
using Paxos.Transport.Udp;

namespace Paxos.Sample.Replica;

/// <summary>
/// One replica process: a <see cref="PaxosNode"/> over a <see cref="UdpTransport"/>, the <see cref="KeyValueExecutor"/>,
/// and a <see cref="ClientServer"/> for the client protocol, until it is told to stop.
/// </summary>
internal static class ReplicaHost
{
    /// <summary>The line a child replica prints once it listens, which the launcher waits for:
    /// <c>READY id=0 udp=127.0.0.1:4000 client=127.0.0.1:4100 pid=123</c>.</summary>
    public const string ReadyPrefix = "READY ";

    /// <summary>The exit code when an endpoint is in use (EADDRINUSE); the launcher then retries with other ports.</summary>
    public const int AddressInUseExitCode = 98;

    /// <summary>Runs the replica until <paramref name="stop"/> is cancelled; returns the process exit code.</summary>
    public static async Task<int> RunAsync(ReplicaSettings settings, ILoggerFactory loggerFactory, CancellationToken stop)
    {
        var logger = loggerFactory.CreateLogger("Paxos.Sample.Replica");
        var udpOptions = settings.UdpOptions();
        var options = settings.PaxosOptions(udpOptions.MaxMessageBytes);
        UdpTransport.CheckCompatible(options, udpOptions);
        var executor = new KeyValueExecutor();
        var (storage, storageDescription) = CreateStorage();
        var transport = new UdpTransport(udpOptions, loggerFactory);
        var node = new PaxosNode(options, executor, transport, storage, loggerFactory);
        var service = new ReplicaService(node, executor, options, () => Traffic(transport), logger);
        ClientServer? server = null;
        try
        {
            // The TCP port first: it is the cheaper one to give back if the UDP port turns out to be taken.
            server = new ClientServer(settings.ClientEndpoint, service, logger);
            await node.StartAsync(stop);
            server.Start();
            SampleLog.Ready(logger, settings.Id, transport.LocalEndpoint!.ToString(), server.Endpoint.ToString(), settings.ClusterSize, storageDescription);
            if (settings.Child)
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{ReadyPrefix}id={settings.Id} udp={transport.LocalEndpoint} client={server.Endpoint} pid={Environment.ProcessId}"));
                Console.Out.Flush();
            }

            await WaitUntilStoppedAsync(stop);
            SampleLog.Stopping(logger, settings.Id);
            return 0;
        }
        catch (SocketException exception) when (exception.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            Console.Error.WriteLine($"Replica {settings.Id}: an endpoint is in use ({settings.UdpEndpoint} UDP or {settings.ClientEndpoint} TCP): {exception.Message}");
            return AddressInUseExitCode;
        }
        finally
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }

            await node.DisposeAsync();
            await transport.DisposeAsync(); // The node disposes it only if it started; idempotent.
        }
    }

    /// <summary>
    /// In memory for now: nothing survives the process, and a replica that restarts comes back empty and catches
    /// up from its peers. A file-based store (and a <c>--data-dir</c> option) plugs in here, and nowhere else.
    /// </summary>
    private static (IReplicaStorage Storage, string Description) CreateStorage() =>
        (new InMemoryReplicaStorage(), "in memory (no fsync; lost with the process)");

    private static TrafficCounts Traffic(UdpTransport transport)
    {
        var counters = transport.Counters;
        return new TrafficCounts(counters.DatagramsSent, counters.DatagramsReceived, counters.FramesSent, counters.FramesDelivered);
    }

    private static async Task WaitUntilStoppedAsync(CancellationToken stop)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, stop);
        }
        catch (OperationCanceledException)
        {
            // Asked to stop: the caller shuts everything down.
        }
    }
}
