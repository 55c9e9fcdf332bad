using System.Globalization;
using System.Net;
using Microsoft.Extensions.Options;
using Paxos.Client.Wire;

namespace Paxos.Client.Listener;

/// <summary>How a <see cref="PaxosClientListener"/> listens and what it bounds. Validated when the listener is built
/// (<see cref="PaxosClientListenerOptionsValidator"/>).</summary>
public sealed class PaxosClientListenerOptions
{
    /// <summary>The configuration section <c>AddPaxosClientListener</c> binds: <c>Paxos:ClientListener</c>.</summary>
    public const string SectionName = "Paxos:ClientListener";

    /// <summary>Where to listen, as address:port (IPv6 in brackets) or <c>localhost:port</c>; port 0 picks a free one
    /// (read it back from <see cref="PaxosClientListener.LocalEndpoint"/>). Required; no default, so that a replica
    /// never listens somewhere its operator did not choose.</summary>
    public string? ListenEndpoint { get; set; }

    /// <summary>The cluster's client key in base64, at least 16 bytes once decoded; clients must have the same. Set:
    /// every frame carries an HMAC-SHA256 tag, and a connection whose frame fails it is closed and counted. Null or
    /// empty (the default): frames are not authenticated. Use a key of its own, not the peers' transport key: every
    /// client holds this one.</summary>
    public string? ClusterKey { get; set; }

    /// <summary>How many client connections may be open at once, from 1 to 65,536; more are closed as they arrive
    /// (and counted). Default 1,024.</summary>
    public int MaxConnections { get; set; } = 1024;

    /// <summary>How many requests of one connection may be in flight at once, from 1 to 4,096; while that many are,
    /// the listener stops reading the connection (TCP pushes back on the client). Default 64.</summary>
    public int MaxInFlightPerConnection { get; set; } = 64;

    /// <summary>The largest frame, after its length prefix, from 1 KiB to 64 MiB; a longer length closes the connection
    /// before anything is allocated for it. Default 1 MiB.</summary>
    public int MaxFrameBytes { get; set; } = WireFormat.DefaultMaxFrameBytes;

    /// <summary>How long a request may wait for the replica before the client is told <c>Timeout</c> (the update may
    /// still execute; the client retries it under the same session and sequence). From 10 ms to 5 minutes. Default
    /// 4 s, a little less than the client's default request timeout.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(4);

    /// <summary>How long a connection may send nothing (no next frame, or the rest of a started one) before it is
    /// closed; also bounds the handshake. From 1 s to 1 day. Default 5 minutes.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The endpoint <see cref="ListenEndpoint"/> names.</summary>
    /// <exception cref="FormatException">It is not address:port or localhost:port.</exception>
    internal IPEndPoint ParseEndpoint()
    {
        var text = ListenEndpoint?.Trim() ?? string.Empty;
        if (text.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase)
            && int.TryParse(text["localhost:".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= IPEndPoint.MaxPort)
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        if (IPEndPoint.TryParse(text, out var endpoint) && text.Contains(':', StringComparison.Ordinal) && !text.EndsWith(']'))
        {
            return endpoint;
        }

        throw new FormatException($"'{ListenEndpoint}' is not address:port or localhost:port.");
    }

    /// <summary>Decodes <see cref="ClusterKey"/>: empty when none is set or it is not base64.</summary>
    internal byte[] DecodeKey()
    {
        if (string.IsNullOrEmpty(ClusterKey))
        {
            return [];
        }

        var bytes = new byte[(ClusterKey.Length * 3 / 4) + 3];
        return Convert.TryFromBase64String(ClusterKey, bytes, out var written) ? bytes[..written] : [];
    }
}

/// <summary>Validates <see cref="PaxosClientListenerOptions"/>; every failure names the option, its value (never the
/// key's) and what is allowed.</summary>
public sealed class PaxosClientListenerOptionsValidator : IValidateOptions<PaxosClientListenerOptions>
{
    /// <summary>The smallest cluster key, in bytes once decoded.</summary>
    public const int MinClusterKeyBytes = 16;

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, PaxosClientListenerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        try
        {
            options.ParseEndpoint();
        }
        catch (FormatException)
        {
            failures.Add(Say($"{nameof(options.ListenEndpoint)} is '{options.ListenEndpoint}'; it must be address:port or localhost:port with a port from 0 to 65535, for example 127.0.0.1:7101."));
        }

        if (!string.IsNullOrEmpty(options.ClusterKey))
        {
            var key = options.DecodeKey();
            if (key.Length == 0)
            {
                failures.Add($"{nameof(options.ClusterKey)} is not valid base64 (value not shown: it is a secret).");
            }
            else if (key.Length < MinClusterKeyBytes)
            {
                failures.Add(Say($"{nameof(options.ClusterKey)} decodes to {key.Length} bytes; it must be at least {MinClusterKeyBytes}."));
            }
        }

        Range(failures, nameof(options.MaxConnections), options.MaxConnections, 1, 65_536);
        Range(failures, nameof(options.MaxInFlightPerConnection), options.MaxInFlightPerConnection, 1, 4096);
        Range(failures, nameof(options.MaxFrameBytes), options.MaxFrameBytes, WireFormat.MinMaxFrameBytes, WireFormat.MaxMaxFrameBytes);
        Range(failures, nameof(options.RequestTimeout), options.RequestTimeout, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(5));
        Range(failures, nameof(options.IdleTimeout), options.IdleTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> listing every invalid option.</summary>
    /// <param name="options">The options to check.</param>
    public static void ThrowIfInvalid(PaxosClientListenerOptions options)
    {
        var result = new PaxosClientListenerOptionsValidator().Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(PaxosClientListenerOptions), result.Failures);
        }
    }

    private static void Range<T>(List<string> failures, string name, T value, T min, T max)
        where T : IComparable<T>
    {
        if (value.CompareTo(min) < 0 || value.CompareTo(max) > 0)
        {
            failures.Add(Say($"{name} is {value}; it must be {min} to {max}."));
        }
    }

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
