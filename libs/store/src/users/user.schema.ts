import { Schema, type InferSchemaType } from 'mongoose';

export const userSchema = new Schema(
  {
    username: { type: String, required: true, unique: true },
    email: { type: String },
    displayName: { type: String },
    affiliation: { type: String },
    admin: { type: Boolean, required: true, default: false },
    lastSignInAt: { type: Date },
  },
  { timestamps: true, collection: 'users' },
);

export type UserDocument = InferSchemaType<typeof userSchema>;
