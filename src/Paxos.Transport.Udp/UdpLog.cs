using System.Net;
using Microsoft.Extensions.Logging;

namespace Paxos.Transport.Udp;

/// <summary>The UDP transport's log lines, source-generated (event ids 3000–3099 of the transports' range).</summary>
internal static partial class UdpLog
{
    [LoggerMessage(3000, LogLevel.Information, "UDP transport of replica {Replica} listening on {Endpoint}; {PeerCount} peers, {Framing}, datagrams up to {MaxDatagramBytes} bytes")]
    public static partial void Started(ILogger logger, int replica, EndPoint? endpoint, int peerCount, string framing, int maxDatagramBytes);

    [LoggerMessage(3001, LogLevel.Information, "UDP transport of replica {Replica} stopped")]
    public static partial void Stopped(ILogger logger, int replica);

    [LoggerMessage(3002, LogLevel.Warning, "UDP transport of replica {Replica} dropped input: {Reason} (last from {Source}); {Suppressed} more like it since the last report")]
    public static partial void DroppedInput(ILogger logger, int replica, UdpDropReason reason, string source, long suppressed);

    [LoggerMessage(3003, LogLevel.Warning, "UDP transport of replica {Replica} dropped output: {Reason} (to {Destination}); {Suppressed} more like it since the last report")]
    public static partial void DroppedOutput(ILogger logger, int replica, UdpDropReason reason, int destination, long suppressed);

    [LoggerMessage(3004, LogLevel.Error, "UDP transport of replica {Replica} cannot encode {Message} for {Destination}: a protocol or configuration bug ({Detail}); {Suppressed} more like it since the last report")]
    public static partial void EncodeFailed(ILogger logger, int replica, string message, int destination, string detail, long suppressed);

    [LoggerMessage(3005, LogLevel.Warning, "UDP transport of replica {Replica}: receive failed ({SocketError}); the loop goes on")]
    public static partial void ReceiveFailed(ILogger logger, int replica, string socketError, Exception exception);

    [LoggerMessage(3006, LogLevel.Error, "UDP transport of replica {Replica}: the receiver threw on {Message}; the message is dropped and the loop goes on")]
    public static partial void ReceiverFailed(ILogger logger, int replica, string message, Exception exception);

    [LoggerMessage(3007, LogLevel.Debug, "UDP transport of replica {Replica}: the socket refused a {Option} of {Bytes} bytes; keeping the system's")]
    public static partial void SocketOptionRefused(ILogger logger, int replica, string option, int bytes, Exception exception);
}
