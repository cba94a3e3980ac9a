export { checkCreate } from './container-create';
export { checkExecCreate, checkNetworkCreate, checkVolumeCreate } from './other-bodies';
export { clientSocketPath, defaultPolicies, HOME_VOLUMES, OPERATIONS, parseRequest, type ApiRequest, type ClientPolicy, type Operation } from './policy';
export { compileImagePattern, loadPolicyFile } from './policy-file';
export { SocketProxy, type ProxyClient, type SocketProxyOptions } from './proxy';
