/** The fake VM's variable store written as edk2 writes it, for the store parser of @vmfarm/image to read. */
import { AUTH_VARIABLE_GUID } from '@vmfarm/image';
import { authVariable, nvDataVolume } from '@vmfarm/image/testing';
import type { StoredVariable } from '@vmfarm/session/testing';

export const buildStore = (vars: readonly StoredVariable[]): Buffer =>
  nvDataVolume(AUTH_VARIABLE_GUID, vars.map(authVariable));
