using System.Globalization;
using System.Net;
using Paxos.Messages;

namespace Paxos.Transport.Udp;

/// <summary>
/// How a <see cref="UdpTransport"/> reaches its peers: where it binds, where every other replica listens,
/// how big a datagram may be and how frames are protected. Read once, when the transport is built, and
/// validated there (<see cref="UdpTransportOptionsValidator"/>); every value binds from configuration
/// strings (<c>"Peers": { "1": "10.0.0.2:7001" }</c>).
/// </summary>
public sealed class UdpTransportOptions
{
    /// <summary>The name of the configuration section the transport's options are usually bound from.</summary>
    public const string SectionName = "Paxos:Udp";

    /// <summary>The default <see cref="MaxDatagramBytes"/>: an Ethernet MTU of 1500 less the IPv4 and UDP headers.</summary>
    public const int DefaultMaxDatagramBytes = 1472;

    /// <summary>The smallest allowed <see cref="MaxDatagramBytes"/>: the datagram every IPv4 host must accept.</summary>
    public const int MinDatagramBytes = 576;

    /// <summary>The largest allowed <see cref="MaxDatagramBytes"/>: the largest UDP payload over IPv4.</summary>
    public const int MaxDatagramBytesLimit = 65_507;

    /// <summary>The default socket buffer size, 4 MiB.</summary>
    public const int DefaultSocketBufferBytes = 4 * 1024 * 1024;

    /// <summary>The default <see cref="MaxPendingDatagramsPerPeer"/>.</summary>
    public const int DefaultMaxPendingDatagramsPerPeer = 8;

    /// <summary>This replica's id, from 0 to N − 1; it names the frames this transport sends. Default 0.</summary>
    public int ReplicaId { get; set; }

    /// <summary>The local endpoint to bind, <c>"address:port"</c> with an IP address (IPv6 in brackets:
    /// <c>"[::1]:7001"</c>) or <c>"localhost"</c>. Port 0 binds a free port, which <see cref="UdpTransport.LocalEndpoint"/>
    /// reports after start; peers must then learn it some other way (a proxy, a registry). Default
    /// <c>"0.0.0.0:7000"</c>.</summary>
    public string BindEndpoint { get; set; } = "0.0.0.0:7000";

    /// <summary>Where every replica listens, by replica id: <c>"host:port"</c>, as <see cref="BindEndpoint"/> but
    /// with a port from 1 to 65535 (a host name is resolved once, when the transport is built). It must
    /// name every other replica from 0 to N − 1, where N is the cluster size; this replica's own entry is
    /// allowed and ignored. A datagram is accepted only from one of these endpoints, and each of its frames
    /// only if it names the replica that endpoint belongs to.</summary>
    public Dictionary<int, string> Peers { get; set; } = [];

    /// <summary>The largest datagram sent or accepted, in bytes, from <see cref="MinDatagramBytes"/> to
    /// <see cref="MaxDatagramBytesLimit"/>. Keep it within the path MTU so the IP layer never fragments.
    /// Default <see cref="DefaultMaxDatagramBytes"/> (1472).</summary>
    public int MaxDatagramBytes { get; set; } = DefaultMaxDatagramBytes;

    /// <summary>Names the cluster; frames of another cluster are dropped. Default 0.</summary>
    public uint ClusterId { get; set; }

    /// <summary>The cluster's shared secret in base64, at least 16 bytes once decoded. Set: every frame ends
    /// with an HMAC-SHA256 keyed with it and frames without a valid one are dropped. Null or empty (the
    /// default): frames end with a CRC-32C, which catches corruption but not forgery.</summary>
    public string? ClusterKey { get; set; }

    /// <summary>The socket's receive buffer, in bytes; best effort (the kernel may cap it, for example at
    /// <c>net.core.rmem_max</c> on Linux). From 64 KiB to 1 GiB. Default 4 MiB.</summary>
    public int ReceiveBufferBytes { get; set; } = DefaultSocketBufferBytes;

    /// <summary>The socket's send buffer, in bytes; best effort, as <see cref="ReceiveBufferBytes"/>. Default 4 MiB.</summary>
    public int SendBufferBytes { get; set; } = DefaultSocketBufferBytes;

    /// <summary>How many full datagrams one peer may hold between two <see cref="UdpTransport.Flush"/> calls,
    /// from 1 to 1024. A batch that fills more sends its oldest datagrams to that peer early rather than hold
    /// more memory; nothing is dropped for this bound. Default 8.</summary>
    public int MaxPendingDatagramsPerPeer { get; set; } = DefaultMaxPendingDatagramsPerPeer;

    /// <summary>The size of the trailer each frame ends with: <see cref="MessageCodec.MacTrailerBytes"/> when a
    /// <see cref="ClusterKey"/> is set, else <see cref="MessageCodec.ChecksumTrailerBytes"/>.</summary>
    public int TrailerBytes => string.IsNullOrEmpty(ClusterKey) ? MessageCodec.ChecksumTrailerBytes : MessageCodec.MacTrailerBytes;

    /// <summary>
    /// The largest message body that fits one datagram: <see cref="MaxDatagramBytes"/> less
    /// <see cref="MessageCodec.HeaderBytes"/> and <see cref="TrailerBytes"/>, capped at
    /// <see cref="MessageSizes.MaxMessageBytes"/>. <see cref="PaxosOptions.MaxMessageBytes"/> must not exceed it
    /// (<see cref="UdpTransport.CheckCompatible"/>): a replica splits its messages to fit this size, and a frame
    /// that does not fit a datagram cannot be sent.
    /// </summary>
    public int MaxMessageBytes => Math.Min(MessageSizes.MaxMessageBytes, MaxDatagramBytes - MessageCodec.HeaderBytes - TrailerBytes);

    /// <summary>The cluster size these options describe: one more than the highest replica id among
    /// <see cref="ReplicaId"/> and the keys of <see cref="Peers"/>.</summary>
    public int ClusterSize
    {
        get
        {
            var highest = ReplicaId;
            if (Peers is not null)
            {
                foreach (var id in Peers.Keys)
                {
                    highest = Math.Max(highest, id);
                }
            }

            return highest + 1;
        }
    }

    /// <summary>Parses an endpoint written as in <see cref="BindEndpoint"/> or <see cref="Peers"/>, resolving a
    /// host name (once, synchronously) when it is not an IP address.</summary>
    /// <param name="text">The endpoint, for example <c>"127.0.0.1:7001"</c>, <c>"[::1]:7001"</c> or <c>"node2:7001"</c>.</param>
    /// <returns>The endpoint.</returns>
    /// <exception cref="FormatException">The text is not <c>host:port</c> with a port from 0 to 65535, or the
    /// host does not resolve.</exception>
    public static IPEndPoint ParseEndpoint(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (IPEndPoint.TryParse(text, out var literal) && HasPort(text))
        {
            return literal;
        }

        if (!TrySplitHostAndPort(text, out var host, out var port))
        {
            throw new FormatException(Say($"'{text}' is not an endpoint: write host:port, for example 127.0.0.1:7001."));
        }

        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        IPAddress[] addresses;
        try
        {
            addresses = Dns.GetHostAddresses(host);
        }
        catch (System.Net.Sockets.SocketException exception)
        {
            throw new FormatException(Say($"The host of '{text}' does not resolve: {exception.Message}"), exception);
        }

        if (addresses.Length == 0)
        {
            throw new FormatException(Say($"The host of '{text}' resolves to no address."));
        }

        // Prefer IPv4: the common case, and what a bind address of 0.0.0.0 can reach.
        var chosen = Array.Find(addresses, static a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ?? addresses[0];
        return new IPEndPoint(chosen, port);
    }

    /// <summary>Checks the syntax of an endpoint (host and port from 0 to 65535) without resolving it.</summary>
    /// <param name="text">The endpoint.</param>
    /// <param name="port">Its port, when the syntax is right.</param>
    /// <returns>Whether the syntax is right.</returns>
    internal static bool TryParseSyntax(string? text, out int port)
    {
        port = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        if (IPEndPoint.TryParse(text, out var literal) && HasPort(text))
        {
            port = literal.Port;
            return true;
        }

        return TrySplitHostAndPort(text, out _, out port);
    }

    /// <summary>Whether an IP literal names its port: <see cref="IPEndPoint.TryParse(string, out IPEndPoint)"/>
    /// also takes a bare address (port 0), which is not an endpoint here.</summary>
    private static bool HasPort(string text)
    {
        if (text.StartsWith('['))
        {
            return text.Contains("]:", StringComparison.Ordinal);
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && colon == text.LastIndexOf(':');
    }

    private static bool TrySplitHostAndPort(string text, out string host, out int port)
    {
        host = string.Empty;
        port = 0;
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || text.IndexOf(':', StringComparison.Ordinal) != colon)
        {
            return false; // No port, or an IPv6 address without brackets.
        }

        host = text[..colon].Trim();
        return host.Length > 0
            && Uri.CheckHostName(host) != UriHostNameType.Unknown
            && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port)
            && port <= IPEndPoint.MaxPort;
    }

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
