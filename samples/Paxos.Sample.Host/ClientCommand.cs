using System.Globalization;
using System.Net;
using System.Text;
using Paxos.Client;
using Paxos.Sample.Protocol;
using Paxos.Transport.Udp;

namespace Paxos.Sample;

/// <summary>
/// <c>client</c>: submits and reads through Paxos.Client (<c>--replicas</c>, the replicas' listener ports), or talks
/// to one replica's sample port (<c>--replica</c>): <c>--status</c> prints its status, <c>--history</c> the updates it
/// executed, <c>--load W</c> runs W writers inside its own process and prints the measurement.
/// </summary>
internal static class ClientCommand
{
    public static readonly string[] Flags = ["status", "history"];

    public static readonly string[] Options = ["replicas", "read", "client-key", "replica", "count", "payload", "load", "seconds", "warmup", "payload-bytes", "from"];

    public static async Task<int> RunAsync(CommandOptions line, CancellationToken cancellationToken)
    {
        if (line.Text("replicas") is { } replicas)
        {
            return await PackageClientAsync(replicas, line, cancellationToken);
        }

        if (!line.Has("status") && !line.Has("history") && !line.Has("load"))
        {
            throw new UsageException("client submits and reads through --replicas host:port,host:port,... (the replicas' listener ports: the UDP port + 200 by default); --replica host:port (the sample's port) serves --status, --history and --load.");
        }

        var endpoint = Endpoint(line.Text("replica") ?? throw new UsageException("--status, --history and --load need --replica host:port, a replica's sample port."));
        ReplicaClient client;
        try
        {
            client = await ReplicaClient.ConnectAsync(endpoint, cancellationToken);
        }
        catch (Exception exception) when (exception is System.Net.Sockets.SocketException or TimeoutException)
        {
            Console.Error.WriteLine($"Cannot connect to {endpoint}: {exception.Message}");
            return 1;
        }

        await using (client)
        {
            try
            {
                return line.Has("status") ? await StatusAsync(client, cancellationToken)
                    : line.Has("history") ? await HistoryAsync(client, line, cancellationToken)
                    : await LoadAsync(client, line, cancellationToken);
            }
            catch (IOException exception)
            {
                Console.Error.WriteLine(exception.Message);
                return 1;
            }
        }
    }

    /// <summary>Submits <c>--count</c> updates (or reads <c>--read KEY</c>) through Paxos.Client, which opens a session,
    /// fails over between the replicas and retries an update under the same (session, sequence).</summary>
    private static async Task<int> PackageClientAsync(string replicas, CommandOptions line, CancellationToken cancellationToken)
    {
        var options = new PaxosClientOptions { ClusterKey = line.Text("client-key") };
        foreach (var text in replicas.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            options.Replicas.Add(Endpoint(text));
        }

        PaxosClient client;
        try
        {
            client = new PaxosClient(options);
        }
        catch (ArgumentException exception)
        {
            throw new UsageException(exception.Message, exception);
        }

        await using (client)
        {
            try
            {
                if (line.Text("read") is { } key)
                {
                    var value = await client.ReadAsync(Encoding.UTF8.GetBytes(key), cancellationToken);
                    Console.WriteLine(Say($"{key}: {DescribeReply(value)}"));
                    return 0;
                }

                var count = line.Int("count", 10, 1, 1_000_000);
                var text = line.Text("payload");
                Console.WriteLine(Say($"{count} updates through {options.Replicas.Count} replicas' listeners"));
                for (var i = 1; i <= count; i++)
                {
                    var payload = Encoding.UTF8.GetBytes(text ?? Say($"SET key{i % 10} value{i}"));
                    var reply = await client.SubmitAsync(payload, cancellationToken);
                    Console.WriteLine(Say($"  s{client.SessionId}#{i} {DescribeReply(reply)}"));
                }

                return 0;
            }
            catch (PaxosClientException exception)
            {
                Console.Error.WriteLine(Say($"{exception.Reason}: {exception.Message}{(exception.UpdateMayHaveExecuted ? " (the update may have executed)" : string.Empty)}"));
                return 1;
            }
        }
    }

    private static string DescribeReply(ReadOnlyMemory<byte> reply)
    {
        if (!KeyValueExecutor.TryParseReply(reply.Span, out var sequence, out var kind, out var value))
        {
            return $"a reply of {reply.Length} bytes";
        }

        var shown = kind switch
        {
            KeyValueExecutor.ReplyKind.Value => $"\"{Encoding.UTF8.GetString(value)}\"",
            KeyValueExecutor.ReplyKind.None => "(none)",
            _ => Encoding.UTF8.GetString(value),
        };
        return Say($"at sequence {sequence}: {shown}");
    }

    private static async Task<int> StatusAsync(ReplicaClient client, CancellationToken cancellationToken)
    {
        var s = await client.StatusAsync(TimeSpan.FromSeconds(5), cancellationToken);
        Console.WriteLine(Say($"replica {s.Id} (pid {s.ProcessId}) at {client.Endpoint}"));
        Console.WriteLine(Say($"  state          {s.State}{(s.IsFaulted ? " (FAULTED)" : string.Empty)}"));
        Console.WriteLine(Say($"  view           installed {s.LastInstalled}, attempted {s.LastAttempted}, leader {s.Leader}"));
        Console.WriteLine(Say($"  local aru      {s.LocalAru}"));
        Console.WriteLine(Say($"  executed       {s.Executed} updates, last at sequence {s.LastExecutedSequence}"));
        Console.WriteLine(Say($"  state digest   {s.Digest:x16}"));
        Console.WriteLine(Say($"  pending        {s.PendingUpdates} local updates"));
        Console.WriteLine(Say($"  datagrams      {s.DatagramsSent} sent, {s.DatagramsReceived} received"));
        Console.WriteLine(Say($"  peak memory    {s.PeakMemoryBytes / (1024.0 * 1024):0.0} MiB"));
        Console.WriteLine(Describe(s.Storage, s.IsRebuilding));
        return 0;
    }

    private static string Describe(StorageStatus storage, bool rebuilding)
    {
        if (!storage.Durable)
        {
            return Say($"  storage        in memory (no fsync); {storage.ReplayedUpdates} updates replayed at start");
        }

        var meanFsync = storage.Fsyncs > 0 ? storage.FsyncTimeTicks / 10.0 / storage.Fsyncs : 0;
        return Say($"  storage        write-ahead log: {storage.Fsyncs} fsyncs (mean {meanFsync:0} µs), {storage.BatchesPersisted} batches, {storage.BytesWritten} bytes written")
            + Environment.NewLine
            + Say($"  recovery       {storage.RecoveredRecords} log records read at start, {storage.ReplayedUpdates} updates replayed{(rebuilding ? "; REBUILDING from peers (not voting yet)" : string.Empty)}");
    }

    private static async Task<int> HistoryAsync(ReplicaClient client, CommandOptions line, CancellationToken cancellationToken)
    {
        var from = line.Long("from", 1, 0, long.MaxValue);
        var count = line.Int("count", 20, 1, ClientMessages.MaxHistoryEntries);
        var page = await client.HistoryAsync(from, count, TimeSpan.FromSeconds(5), cancellationToken);
        Console.WriteLine(Say($"replica at {client.Endpoint}: {page.Executed} updates executed; {page.Entries.Length} from sequence {from}:"));
        foreach (var entry in page.Entries)
        {
            Console.WriteLine(Say($"  {entry.Sequence,10}  c{entry.ClientId}#{entry.Timestamp}"));
        }

        return 0;
    }

    private static async Task<int> LoadAsync(ReplicaClient client, CommandOptions line, CancellationToken cancellationToken)
    {
        var request = new LoadRequest(
            line.Int("load", 1, 1, LoadRequest.MaxWriters),
            line.Int("seconds", 10, 1, LoadRequest.MaxMillis / 1000) * 1000,
            line.Int("payload-bytes", 64, LoadRequest.MinPayloadBytes, 65_000),
            line.Int("warmup", 3, 0, LoadRequest.MaxMillis / 1000) * 1000);
        Console.WriteLine(Say($"load: {request.Writers} writers inside replica {client.Endpoint}, {request.PayloadBytes}-byte updates, {request.WarmupMillis / 1000} s warm-up, {request.MeasureMillis / 1000} s measured"));
        var r = await client.LoadAsync(request, cancellationToken);
        Console.WriteLine(Say($"  throughput     {r.UpdatesPerSecond:N0} updates/s ({r.Updates:N0} in {r.Seconds:0.00} s, {r.Failures} failures)"));
        Console.WriteLine(Say($"  latency        p50 {r.P50Nanos / 1000.0:N0} µs  p99 {r.P99Nanos / 1000.0:N0} µs  p99.9 {r.P999Nanos / 1000.0:N0} µs  max {r.MaxNanos / 1000.0:N0} µs"));
        Console.WriteLine(Say($"  peak memory    {r.PeakMemoryBytes / (1024.0 * 1024):0.0} MiB"));
        return 0;
    }

    private static IPEndPoint Endpoint(string text)
    {
        try
        {
            return UdpTransportOptions.ParseEndpoint(text);
        }
        catch (FormatException exception)
        {
            throw new UsageException($"--replica: {exception.Message}", exception);
        }
    }

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
