using System.Net;
using Microsoft.Extensions.Logging;

namespace Paxos.Client.Listener;

/// <summary>The client listener's log lines, source-generated (event ids 3100–3199 of the transports' range).</summary>
internal static partial class ListenerLog
{
    [LoggerMessage(3100, LogLevel.Information, "Client listener of replica {Replica} listening on {Endpoint} ({Framing}); at most {MaxConnections} connections")]
    public static partial void Started(ILogger logger, int replica, EndPoint? endpoint, string framing, int maxConnections);

    [LoggerMessage(3101, LogLevel.Information, "Client listener of replica {Replica} stopped")]
    public static partial void Stopped(ILogger logger, int replica);

    [LoggerMessage(3102, LogLevel.Warning, "Client listener of replica {Replica} closed the connection from {Remote}: {Reason}")]
    public static partial void Closed(ILogger logger, int replica, string remote, string reason);

    [LoggerMessage(3103, LogLevel.Warning, "Client listener of replica {Replica} refused a connection from {Remote}: {Open} connections are open, the most allowed")]
    public static partial void Refused(ILogger logger, int replica, string remote, int open);

    [LoggerMessage(3104, LogLevel.Warning, "Client listener of replica {Replica}: accept failed ({SocketError}); the loop goes on")]
    public static partial void AcceptFailed(ILogger logger, int replica, string socketError);

    [LoggerMessage(3105, LogLevel.Error, "Client listener of replica {Replica}: a {Request} request failed unexpectedly; the client gets Unavailable")]
    public static partial void RequestFailed(ILogger logger, int replica, string request, Exception exception);
}
