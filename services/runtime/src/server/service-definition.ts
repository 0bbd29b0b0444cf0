import type { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';

// The shape of ts-proto's `outputServices=generic-definitions` output. The
// runtime derives servers and clients from it, so it owns (de)serialisation.

export interface MessageCodec<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: BinaryReader | Uint8Array, length?: number): T;
  fromPartial(object: any): T;
}

export interface MethodDefinition {
  name: string;
  requestType: MessageCodec<any>;
  requestStream: boolean;
  responseType: MessageCodec<any>;
  responseStream: boolean;
}

export interface ServiceDefinition {
  name: string;
  fullName: string;
  methods: Record<string, MethodDefinition>;
}

export type RequestOf<M> = M extends { requestType: MessageCodec<infer R> } ? R : never;
export type ResponseOf<M> = M extends { responseType: MessageCodec<infer R> } ? R : never;

type Builtin = Date | ((...args: any[]) => any) | Uint8Array | string | number | boolean | undefined;
/** A message with any field left out: codecs fill the defaults. */
export type DeepPartial<T> = T extends Builtin
  ? T
  : T extends Array<infer U>
    ? Array<DeepPartial<U>>
    : T extends { $case: string }
      ? { [K in keyof Omit<T, '$case'>]?: DeepPartial<T[K]> } & { $case: T['$case'] }
      : T extends object
        ? { [K in keyof T]?: DeepPartial<T[K]> }
        : Partial<T>;
