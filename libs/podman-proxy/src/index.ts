export { checkCreate, defaultPolicies, OPERATIONS, parseRequest, type ApiRequest, type ClientPolicy, type Operation } from './policy';
export { compileImagePattern, loadPolicyFile } from './policy-file';
export { SocketProxy, type ProxyClient, type SocketProxyOptions } from './proxy';
