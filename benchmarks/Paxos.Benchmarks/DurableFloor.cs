using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;
using static System.FormattableString;

namespace Paxos.Benchmarks;

/// <summary>Which copies end a floor round.</summary>
internal enum FloorShape
{
    /// <summary>The leader's own copy and the first follower's: the quorum a three-replica cluster orders with.</summary>
    LeaderAndFollower,

    /// <summary>Both followers' copies, the leader writing nothing: the best a design could do that kept the leader's
    /// own flush off the path (with LeaderSendsAccept, two followers are a quorum).</summary>
    TwoFollowers,
}

/// <summary>
/// The floor of a durable round on this machine (<c>--floor</c>, and <c>--udp --durable --floor</c> beside every
/// run): the same shape as a three-replica round — a leader sends a proposal over UDP on 127.0.0.1 to two followers,
/// each follower appends the round's bytes to a file of its own, flushes it and answers — with nothing else in it:
/// no protocol, no encoding, no allocation, one thread per replica, the files already written so that every append
/// overwrites zeros. No implementation that makes two copies durable before it answers can order one update at a
/// time faster than this, nor more than <c>rounds/s × updates per round</c> with many writers.
/// </summary>
internal static class DurableFloor
{
    private const int FileBytes = 32 << 20;
    private const int MaxDatagramBytes = 8192;

    /// <summary>One measurement: rounds per second and the round's latency percentiles, in microseconds.</summary>
    public sealed record Result(FloorShape Shape, int BytesPerRound, double RoundsPerSecond, double P50Micros, double P99Micros)
    {
        public string Describe() => string.Create(CultureInfo.InvariantCulture,
            $"{RoundsPerSecond:N0} rounds/s, p50 {P50Micros:N0} µs, p99 {P99Micros:N0} µs ({(Shape == FloorShape.LeaderAndFollower ? "leader + first follower" : "two followers")}, {BytesPerRound:N0} bytes per copy)");
    }

    /// <summary><c>--floor [seconds] [runs]</c>: both shapes, with one small record per round (one writer) and with
    /// 64 of them (64 writers).</summary>
    public static int Run(int seconds, int runs)
    {
        Console.WriteLine(Invariant($"Floor of a durable round: a leader and two followers (threads) on 127.0.0.1, each follower flushing its own file; {seconds} s per run, {runs} runs; median"));
        foreach (var bytes in new[] { 200, 64 * 200 })
        {
            foreach (var shape in new[] { FloorShape.LeaderAndFollower, FloorShape.TwoFollowers })
            {
                var results = Enumerable.Range(0, runs).Select(_ => Measure(shape, bytes, TimeSpan.FromSeconds(seconds))).OrderBy(r => r.RoundsPerSecond).ToList();
                Console.WriteLine("  " + results[results.Count / 2].Describe()
                    + Invariant($"; runs {string.Join(" / ", results.Select(r => r.RoundsPerSecond.ToString("N0", CultureInfo.InvariantCulture)))}"));
            }
        }

        return 0;
    }

    /// <summary>Runs rounds of <paramref name="shape"/> for <paramref name="duration"/>, each copy
    /// <paramref name="bytesPerRound"/> bytes, in a fresh temporary directory.</summary>
    public static Result Measure(FloorShape shape, int bytesPerRound, TimeSpan duration)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytesPerRound, 8);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytesPerRound, 1 << 20);
        var directory = Path.Combine(Path.GetTempPath(), "paxos-floor-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        using var leaderSocket = Bind();
        var followers = new Thread[2];
        var followerSockets = new Socket[2];
        try
        {
            for (var i = 0; i < followers.Length; i++)
            {
                var socket = followerSockets[i] = Bind();
                var file = CreateWrittenFile(Path.Combine(directory, $"f{i}"));
                followers[i] = new Thread(() => Follow(socket, file, bytesPerRound, leaderSocket.LocalEndPoint!)) { IsBackground = true, Name = $"floor follower {i}" };
                followers[i].Start();
            }

            using var own = shape == FloorShape.LeaderAndFollower ? CreateWrittenFile(Path.Combine(directory, "leader")) : null;
            var latencies = new List<double>(1 << 16);
            var proposal = new byte[Math.Min(bytesPerRound, MaxDatagramBytes)];
            var copy = new byte[bytesPerRound];
            var answer = new byte[16];
            var needed = shape == FloorShape.LeaderAndFollower ? 1 : 2;
            long offset = 0;
            var started = Stopwatch.GetTimestamp();
            long round = 0;
            for (; Stopwatch.GetElapsedTime(started) < duration && round < 10_000_000; round++)
            {
                var begun = Stopwatch.GetTimestamp();
                BitConverter.TryWriteBytes(proposal, round);
                foreach (var follower in followerSockets)
                {
                    leaderSocket.SendTo(proposal, follower.LocalEndPoint!);
                }

                if (own is not null)
                {
                    offset = Append(own, copy, offset);
                }

                for (var accepts = 0; accepts < needed;)
                {
                    var received = leaderSocket.Receive(answer);
                    if (received == 8 && BitConverter.ToInt64(answer) == round)
                    {
                        accepts++;
                    }
                }

                latencies.Add(Stopwatch.GetElapsedTime(begun).TotalMicroseconds);
            }

            var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            latencies.Sort();
            return new Result(shape, bytesPerRound, round / elapsed, Percentiles.Of(latencies, 0.50), Percentiles.Of(latencies, 0.99));
        }
        finally
        {
            foreach (var socket in followerSockets)
            {
                socket?.Dispose(); // Ends the follower's Receive.
            }

            foreach (var follower in followers)
            {
                follower?.Join(TimeSpan.FromSeconds(5));
            }

            Directory.Delete(directory, recursive: true);
        }
    }

    private static void Follow(Socket socket, SafeFileHandle file, int bytesPerRound, EndPoint leader)
    {
        using (file)
        {
            var proposal = new byte[MaxDatagramBytes];
            var copy = new byte[bytesPerRound];
            long offset = 0;
            try
            {
                while (true)
                {
                    if (socket.Receive(proposal) < 8)
                    {
                        continue;
                    }

                    offset = Append(file, copy, offset);
                    socket.SendTo(proposal.AsSpan(0, 8), leader);
                }
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                // The measurement ended: the leader disposed the socket.
            }
        }
    }

    /// <summary>Writes <paramref name="copy"/> at <paramref name="offset"/> (wrapping at the file's end) and flushes.</summary>
    private static long Append(SafeFileHandle file, byte[] copy, long offset)
    {
        if (offset + copy.Length > FileBytes)
        {
            offset = 0;
        }

        RandomAccess.Write(file, copy, offset);
        RandomAccess.FlushToDisk(file);
        return offset + copy.Length;
    }

    /// <summary>A file of <see cref="FileBytes"/> zeros, written and flushed: appends then overwrite written blocks,
    /// as the write-ahead log's do (it writes zeros ahead of them).</summary>
    private static SafeFileHandle CreateWrittenFile(string path)
    {
        var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        var zeros = new byte[1 << 20];
        for (long at = 0; at < FileBytes; at += zeros.Length)
        {
            RandomAccess.Write(file, zeros, at);
        }

        RandomAccess.FlushToDisk(file);
        return file;
    }

    private static Socket Bind()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

}
