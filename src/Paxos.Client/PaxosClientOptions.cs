using System.Globalization;
using System.Net;
using Paxos.Client.Wire;

namespace Paxos.Client;

/// <summary>
/// How a <see cref="PaxosClient"/> reaches a cluster and how long it waits. Read once, when the client is built; a
/// value out of range fails there with an <see cref="ArgumentException"/> that names the option.
/// </summary>
public sealed class PaxosClientOptions
{
    /// <summary>The smallest cluster key, in bytes once decoded.</summary>
    public const int MinClusterKeyBytes = 16;

    /// <summary>The replicas' client endpoints (their listeners, not their peer ports). The client starts with the
    /// first and moves on when one fails or refuses. At least one; at most 64.</summary>
    public IList<EndPoint> Replicas { get; } = new List<EndPoint>();

    /// <summary>The cluster's client key in base64, at least 16 bytes once decoded, the same as the listeners'. Set:
    /// every frame carries an HMAC-SHA256 tag and a replica with another key is refused. Null or empty (the
    /// default): frames are not authenticated.</summary>
    public string? ClusterKey { get; set; }

    /// <summary>How long connecting to one replica, handshake included, may take. From 10 ms to 5 minutes. Default
    /// 3 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>How long one request to one replica may wait for its answer before the client tries again (the same
    /// update, under the same session and sequence). From 10 ms to 5 minutes. Default 5 s, a little more than the
    /// listener's own request timeout, so that the replica's answer normally comes first.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one <see cref="PaxosClient.SubmitAsync"/> or <see cref="PaxosClient.ReadAsync"/> may take in
    /// all, retries included; then it fails with <see cref="PaxosClientFailure.Timeout"/>. At least
    /// <see cref="RequestTimeout"/>, at most one day. Default 30 s.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The first pause after every replica failed once in a row; it doubles up to
    /// <see cref="MaxRetryDelay"/>. From 0 to 1 minute. Default 20 ms.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>The longest pause between rounds of retries. From <see cref="RetryDelay"/> to 1 minute. Default 1 s.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The largest frame, after its 4-byte length prefix, that the client sends or accepts; a payload, a
    /// query or a result must fit in it with 33 bytes to spare. From 1 KiB to 64 MiB; the listeners' must be at least as large
    /// for every answer to arrive. Default 1 MiB.</summary>
    public int MaxFrameBytes { get; set; } = WireFormat.DefaultMaxFrameBytes;

    /// <summary>How many requests (reads, and the one submission) may wait for answers at once; more wait for a
    /// turn. From 1 to 4096. Default 64.</summary>
    public int MaxInFlightRequests { get; set; } = 64;

    /// <summary>Decodes <see cref="ClusterKey"/>: empty when none is set.</summary>
    internal byte[] DecodeKey()
    {
        if (string.IsNullOrEmpty(ClusterKey))
        {
            return [];
        }

        var bytes = new byte[(ClusterKey.Length * 3 / 4) + 3];
        return Convert.TryFromBase64String(ClusterKey, bytes, out var written) ? bytes[..written] : [];
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every value out of range.</summary>
    internal void ThrowIfInvalid()
    {
        var failures = new List<string>();
        if (Replicas.Count is < 1 or > 64)
        {
            failures.Add(Say($"{nameof(Replicas)} has {Replicas.Count} endpoints; it must have 1 to 64."));
        }

        for (var i = 0; i < Replicas.Count; i++)
        {
            if (Replicas[i] is not (IPEndPoint { Port: > 0 } or DnsEndPoint { Port: > 0 }))
            {
                failures.Add(Say($"{nameof(Replicas)}[{i}] is '{Replicas[i]}'; it must be an IP or DNS endpoint with a port from 1 to 65535."));
            }
        }

        if (!string.IsNullOrEmpty(ClusterKey))
        {
            var key = DecodeKey();
            if (key.Length == 0)
            {
                failures.Add($"{nameof(ClusterKey)} is not valid base64 (value not shown: it is a secret).");
            }
            else if (key.Length < MinClusterKeyBytes)
            {
                failures.Add(Say($"{nameof(ClusterKey)} decodes to {key.Length} bytes; it must be at least {MinClusterKeyBytes}."));
            }
        }

        Range(failures, nameof(ConnectTimeout), ConnectTimeout, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(5));
        Range(failures, nameof(RequestTimeout), RequestTimeout, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(5));
        Range(failures, nameof(OperationTimeout), OperationTimeout, RequestTimeout, TimeSpan.FromDays(1));
        Range(failures, nameof(RetryDelay), RetryDelay, TimeSpan.Zero, TimeSpan.FromMinutes(1));
        Range(failures, nameof(MaxRetryDelay), MaxRetryDelay, RetryDelay, TimeSpan.FromMinutes(1));
        if (MaxFrameBytes is < WireFormat.MinMaxFrameBytes or > WireFormat.MaxMaxFrameBytes)
        {
            failures.Add(Say($"{nameof(MaxFrameBytes)} is {MaxFrameBytes}; it must be {WireFormat.MinMaxFrameBytes} to {WireFormat.MaxMaxFrameBytes}."));
        }

        if (MaxInFlightRequests is < 1 or > 4096)
        {
            failures.Add(Say($"{nameof(MaxInFlightRequests)} is {MaxInFlightRequests}; it must be 1 to 4096."));
        }

        if (failures.Count > 0)
        {
            throw new ArgumentException("Invalid PaxosClientOptions: " + string.Join(" ", failures), "options");
        }
    }

    private static void Range(List<string> failures, string name, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            failures.Add(Say($"{name} is {value}; it must be {min} to {max}."));
        }
    }

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
