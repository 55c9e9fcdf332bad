using System.Globalization;
using System.Net;
using Microsoft.Extensions.Options;
using Paxos.Messages;

namespace Paxos.Transport.Udp;

/// <summary>Validates <see cref="UdpTransportOptions"/>; every failure names the option, its value and what is
/// allowed. It checks syntax only and resolves no host name.</summary>
public sealed class UdpTransportOptionsValidator : IValidateOptions<UdpTransportOptions>
{
    /// <summary>The largest cluster, as <see cref="ReplicaId.MaxClusterSize"/>.</summary>
    public const int MaxClusterSize = ReplicaId.MaxClusterSize;

    /// <summary>The smallest allowed socket buffer, 64 KiB.</summary>
    public const int MinSocketBufferBytes = 64 * 1024;

    /// <summary>The largest allowed socket buffer, 1 GiB.</summary>
    public const int MaxSocketBufferBytes = 1024 * 1024 * 1024;

    /// <summary>The largest allowed <see cref="UdpTransportOptions.MaxPendingDatagramsPerPeer"/>.</summary>
    public const int MaxPendingDatagramsLimit = 1024;

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, UdpTransportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();

        Range(failures, nameof(options.ReplicaId), options.ReplicaId, 0, MaxClusterSize - 1);
        Range(failures, nameof(options.MaxDatagramBytes), options.MaxDatagramBytes, UdpTransportOptions.MinDatagramBytes, UdpTransportOptions.MaxDatagramBytesLimit);
        Range(failures, nameof(options.ReceiveBufferBytes), options.ReceiveBufferBytes, MinSocketBufferBytes, MaxSocketBufferBytes);
        Range(failures, nameof(options.SendBufferBytes), options.SendBufferBytes, MinSocketBufferBytes, MaxSocketBufferBytes);
        Range(failures, nameof(options.MaxPendingDatagramsPerPeer), options.MaxPendingDatagramsPerPeer, 1, MaxPendingDatagramsLimit);

        if (!UdpTransportOptions.TryParseSyntax(options.BindEndpoint, out _))
        {
            failures.Add(Say($"{nameof(options.BindEndpoint)} is '{options.BindEndpoint}'; it must be host:port with a port from 0 to 65535, for example 127.0.0.1:7001."));
        }

        ValidatePeers(failures, options);
        ValidateKey(failures, options.ClusterKey);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> listing every invalid option.</summary>
    /// <param name="options">The options to check.</param>
    public static void ThrowIfInvalid(UdpTransportOptions options)
    {
        var result = new UdpTransportOptionsValidator().Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(UdpTransportOptions), result.Failures);
        }
    }

    /// <summary>Decodes <see cref="UdpTransportOptions.ClusterKey"/>: empty when none is set.</summary>
    internal static byte[] DecodeKey(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return [];
        }

        var bytes = new byte[(key.Length * 3 / 4) + 3];
        return Convert.TryFromBase64String(key, bytes, out var written) ? bytes[..written] : [];
    }

    private static void ValidatePeers(List<string> failures, UdpTransportOptions options)
    {
        if (options.Peers is null)
        {
            failures.Add(Say($"{nameof(options.Peers)} is null; it must name every other replica's endpoint."));
            return;
        }

        var clusterSize = options.ClusterSize;
        if (clusterSize > MaxClusterSize)
        {
            failures.Add(Say($"{nameof(options.Peers)} names replica {clusterSize - 1}; replica ids run from 0 to {MaxClusterSize - 1}."));
            return;
        }

        var seen = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var id = 0; id < clusterSize; id++)
        {
            if (!options.Peers.TryGetValue(id, out var endpoint))
            {
                if (id != options.ReplicaId)
                {
                    failures.Add(Say($"{nameof(options.Peers)} has no endpoint for replica {id}; it must name every replica from 0 to {clusterSize - 1} but this one ({options.ReplicaId})."));
                }

                continue;
            }

            if (id == options.ReplicaId)
            {
                continue; // This replica's own entry is ignored, so one config file serves every replica.
            }

            if (!UdpTransportOptions.TryParseSyntax(endpoint, out var port) || port == 0)
            {
                failures.Add(Say($"{nameof(options.Peers)}[{id}] is '{endpoint}'; it must be host:port with a port from 1 to 65535."));
            }
            else if (IsBindEndpoint(endpoint, options.BindEndpoint))
            {
                failures.Add(Say($"{nameof(options.Peers)}[{id}] is '{endpoint}', this replica's own {nameof(options.BindEndpoint)} ('{options.BindEndpoint}'); replica {options.ReplicaId} would talk to itself as replica {id}."));
            }
            else if (seen.TryGetValue(endpoint.Trim(), out var other))
            {
                failures.Add(Say($"{nameof(options.Peers)}[{id}] is '{endpoint}', the same as {nameof(options.Peers)}[{other}]; a datagram's source must name one replica."));
            }
            else
            {
                seen.Add(endpoint.Trim(), id);
            }
        }

        foreach (var id in options.Peers.Keys)
        {
            if (id < 0)
            {
                failures.Add(Say($"{nameof(options.Peers)} names replica {id}; replica ids are not negative."));
            }
        }
    }

    /// <summary>Whether a peer endpoint, as written, is the bind endpoint: the same text, or IP literals (or
    /// <c>localhost</c>) with the same address and port, or a loopback address on the port of a wildcard bind
    /// (<c>0.0.0.0</c>, <c>[::]</c>), which reaches this very socket. Host names are not resolved here; the transport
    /// compares resolved endpoints when it is built.</summary>
    private static bool IsBindEndpoint(string peer, string? bind)
    {
        if (bind is null)
        {
            return false;
        }

        if (string.Equals(peer.Trim(), bind.Trim(), StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return TryLiteral(peer, out var peerEndpoint) && TryLiteral(bind, out var bindEndpoint) && ReachesBind(peerEndpoint, bindEndpoint);
    }

    /// <summary>Whether a datagram sent to <paramref name="peer"/> arrives at a socket bound to <paramref name="bind"/>
    /// on this machine: the same address and port, or a loopback address on the port of a wildcard bind.</summary>
    internal static bool ReachesBind(IPEndPoint peer, IPEndPoint bind)
    {
        if (peer.Port != bind.Port || bind.Port == 0)
        {
            return false;
        }

        var peerAddress = peer.Address.IsIPv4MappedToIPv6 ? peer.Address.MapToIPv4() : peer.Address;
        var bindAddress = bind.Address.IsIPv4MappedToIPv6 ? bind.Address.MapToIPv4() : bind.Address;
        var wildcard = bindAddress.Equals(IPAddress.Any) || bindAddress.Equals(IPAddress.IPv6Any);
        return peerAddress.Equals(bindAddress) || (wildcard && IPAddress.IsLoopback(peerAddress));
    }

    /// <summary>An IP literal with its port, or <c>localhost:port</c> as the IPv4 loopback; nothing is resolved.</summary>
    private static bool TryLiteral(string text, out IPEndPoint endpoint)
    {
        endpoint = null!;
        if (!UdpTransportOptions.TryParseSyntax(text, out var port))
        {
            return false;
        }

        var trimmed = text.Trim();
        if (trimmed.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase))
        {
            endpoint = new IPEndPoint(IPAddress.Loopback, port);
            return true;
        }

        if (IPEndPoint.TryParse(trimmed, out var literal))
        {
            endpoint = literal;
            return true;
        }

        return false;
    }

    private static void ValidateKey(List<string> failures, string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return;
        }

        var decoded = DecodeKey(key);
        if (decoded.Length == 0)
        {
            failures.Add(Say($"{nameof(UdpTransportOptions.ClusterKey)} is not valid base64 (value not shown: it is a secret)."));
        }
        else if (decoded.Length < MessageCodecOptions.MinClusterKeyBytes)
        {
            failures.Add(Say($"{nameof(UdpTransportOptions.ClusterKey)} decodes to {decoded.Length} bytes; it must be at least {MessageCodecOptions.MinClusterKeyBytes}."));
        }
    }

    private static void Range(List<string> failures, string option, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            failures.Add(Say($"{option} is {value}; it must be from {min} to {max}."));
        }
    }

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
