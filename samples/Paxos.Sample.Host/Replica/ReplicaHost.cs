using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Paxos.Client.Listener;
using Paxos.Sample.Protocol;
using Paxos.Storage;
using Paxos.Transport.Udp;

namespace Paxos.Sample.Replica;

/// <summary>
/// One replica process: a <see cref="PaxosNode"/> over a <see cref="UdpTransport"/>, the <see cref="KeyValueExecutor"/>,
/// a <see cref="PaxosClientListener"/> for Paxos.Client (submissions and reads), and a <see cref="ClientServer"/> for
/// the sample's own protocol (status, history, load runs, and the demo's writers), until it is told to stop.
/// </summary>
internal static class ReplicaHost
{
    /// <summary>The line a child replica prints once it listens, which the launcher waits for:
    /// <c>READY id=0 udp=127.0.0.1:4000 client=127.0.0.1:4100 pid=123</c>.</summary>
    public const string ReadyPrefix = "READY ";

    /// <summary>The exit code when an endpoint is in use (EADDRINUSE); the launcher then retries with other ports.</summary>
    public const int AddressInUseExitCode = 98;

    /// <summary>The exit code when the data directory cannot be used: locked by another replica, not writable, or
    /// damaged (the message says which). The replica refuses to run on state it cannot trust.</summary>
    public const int StorageFailureExitCode = 3;

    /// <summary>Runs the replica until <paramref name="stop"/> is cancelled; returns the process exit code.</summary>
    public static async Task<int> RunAsync(ReplicaSettings settings, ILoggerFactory loggerFactory, CancellationToken stop)
    {
        var logger = loggerFactory.CreateLogger("Paxos.Sample.Replica");
        var udpOptions = settings.UdpOptions();
        var options = settings.PaxosOptions(udpOptions.MaxMessageBytes);
        UdpTransport.CheckCompatible(options, udpOptions);
        var executor = new KeyValueExecutor(settings.KeepHistory);
        var transport = new UdpTransport(udpOptions, loggerFactory);
        PaxosNode? node = null;
        ClientServer? server = null;
        PaxosClientListener? listener = null;
        try
        {
            if (settings.DataDirectory is { } directory)
            {
                SampleLog.DataDirectory(logger, settings.Id, directory, settings.Rebuild ? " (--rebuild: its state was lost; rebuild it from the peers)" : string.Empty);
            }

            // With no storage given, the node keeps its write-ahead log in options.DataDirectory (memory without one).
            node = new PaxosNode(options, executor, transport, storage: null, loggerFactory);

            var service = new ReplicaService(node, executor, options, () => Traffic(transport), logger);

            // The TCP port first: it is the cheaper one to give back if the UDP port turns out to be taken.
            server = new ClientServer(settings.ClientEndpoint, service, logger);
            listener = new PaxosClientListener(node, new PaxosClientListenerOptions
            {
                ListenEndpoint = settings.ListenerEndpoint!.ToString(),
                ClusterKey = settings.ClientKey,
            }, loggerFactory);
            await node.StartAsync(stop);
            service.ReplayedUpdates = ReportRecovery(logger, settings.Id, settings.DataDirectory, settings.Rebuild, node, executor);

            // Replaying the log left the recovered records in the oldest generation, whose next collection the GC
            // schedules in proportion to that generation's size: left alone, a restarted replica under load grew by
            // ~4 MiB/s to ~300 MiB before it came (soak, docs/performance.md, "Resident memory"). One full compacting
            // collection now, before the replica serves anyone, gives that memory back.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            server.Start();
            await listener.StartAsync(stop);
            SampleLog.Ready(logger, settings.Id, transport.LocalEndpoint!.ToString(), server.Endpoint.ToString(), listener.LocalEndpoint!.ToString(), settings.ClusterSize, StorageDescription(settings));
            if (settings.Child)
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{ReadyPrefix}id={settings.Id} udp={transport.LocalEndpoint} client={server.Endpoint} listener={listener.LocalEndpoint} pid={Environment.ProcessId}"));
                Console.Out.Flush();
            }

            await WaitUntilStoppedAsync(stop);
            SampleLog.Stopping(logger, settings.Id);
            return 0;
        }
        catch (SocketException exception) when (exception.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            Console.Error.WriteLine($"Replica {settings.Id}: an endpoint is in use ({settings.UdpEndpoint} UDP, or {settings.ClientEndpoint} or {settings.ListenerEndpoint} TCP): {exception.Message}");
            return AddressInUseExitCode;
        }
        catch (Exception exception) when (settings.DataDirectory is not null && exception is IOException or UnauthorizedAccessException or StorageCorruptionException)
        {
            Console.Error.WriteLine($"Replica {settings.Id}: the data directory {settings.DataDirectory} cannot be used: {exception.GetType().Name}: {exception.Message}");
            return StorageFailureExitCode;
        }
        finally
        {
            // The listener first, so that its clients move to other replicas while this node still runs.
            if (listener is not null)
            {
                await listener.DisposeAsync();
            }

            if (server is not null)
            {
                await server.DisposeAsync();
            }

            if (node is not null)
            {
                await node.DisposeAsync();
            }

            await transport.DisposeAsync(); // The node disposes it only if it started; idempotent.
        }
    }

    /// <summary>Says what a started node recovered: the view and the updates its log replayed through the executor
    /// (the node replays before its transport starts, so nothing else has executed yet). Returns the updates replayed.</summary>
    public static long ReportRecovery(ILogger logger, int replica, string? dataDirectory, bool rebuild, PaxosNode node, KeyValueExecutor executor)
    {
        var executed = executor.Snapshot();
        if (node.StorageCounters is not { } counters)
        {
            return executed.Executed;
        }

        var view = node.Status.LastInstalled.Value;
        if (counters.LastRecoveryRecordsRead == 0 && view == 0)
        {
            SampleLog.FirstStart(logger, replica, dataDirectory ?? "?");
            return executed.Executed;
        }

        if (executor.Restored is { } snapshot)
        {
            SampleLog.SnapshotRestored(logger, replica, snapshot.Sequence.Value, snapshot.Executed);
        }

        var replayed = executed.Executed - (executor.Restored?.Executed ?? 0);
        SampleLog.Recovered(logger, replica, view, counters.LastRecoveryRecordsRead, replayed, executed.LastSequence, counters.LastRecoveryTornBytes);
        if (rebuild)
        {
            SampleLog.RebuildIgnored(logger, replica, dataDirectory ?? "?");
        }

        return executed.Executed;
    }

    private static string StorageDescription(ReplicaSettings settings) => settings.DataDirectory is { } directory
        ? $"a write-ahead log in {directory} (fsync before every acknowledgement)"
        : "in memory (no fsync; lost with the process)";

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
